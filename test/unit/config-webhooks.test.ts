// TIDINGS_WEBHOOK_ALLOW_PRIVATE: off unless set to on; anything else stops start-up naming the variable.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, loadConfig } from '#data/config.ts';

test('TIDINGS_WEBHOOK_ALLOW_PRIVATE is off by default, on when set so, and refused otherwise', () => {
  assert.equal(loadConfig({}).webhookAllowPrivate, false);
  assert.equal(loadConfig({ TIDINGS_WEBHOOK_ALLOW_PRIVATE: 'off' }).webhookAllowPrivate, false);
  assert.equal(loadConfig({ TIDINGS_WEBHOOK_ALLOW_PRIVATE: 'on' }).webhookAllowPrivate, true);
  assert.throws(
    () => loadConfig({ TIDINGS_WEBHOOK_ALLOW_PRIVATE: 'yes' }),
    (e: unknown) => e instanceof ConfigError && e.variable === 'TIDINGS_WEBHOOK_ALLOW_PRIVATE' && /on, off/.test(e.message),
  );
});
