// Astro adapter that hands the built app to the Hono server instead of starting a server of its own.
export default function tidingsAdapter() {
  return {
    name: 'tidings-hono',
    hooks: {
      'astro:config:done': ({ setAdapter }) => {
        setAdapter({
          name: 'tidings-hono',
          entrypointResolution: 'auto',
          serverEntrypoint: new URL('./entry.mjs', import.meta.url),
          adapterFeatures: { buildOutput: 'server' },
          supportedAstroFeatures: {
            serverOutput: 'stable',
            staticOutput: 'stable',
            hybridOutput: 'stable',
            sharpImageService: 'unsupported',
          },
        });
      },
    },
  };
}
