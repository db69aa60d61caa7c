// DNS for the bench's sending side: mail-corpus's HAM_ZONE (HELO name, client name and domain resolve, an MX) plus SPF
// for the load's source address and a DMARC record, so SPF and DMARC pass for Tidings' checks and rspamd's alike.
import { HAM_SENDER, HAM_ZONE } from '../../test/support/mail-corpus.ts';

export const ZONE = {
  ...HAM_ZONE,
  txt: {
    [HAM_SENDER.domain]: ['v=spf1 ip4:127.0.0.1 -all'],
    [`_dmarc.${HAM_SENDER.domain}`]: ['v=DMARC1; p=none'],
  },
};
