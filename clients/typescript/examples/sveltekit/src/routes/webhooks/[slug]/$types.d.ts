// Stand-in for the file `svelte-kit sync` generates for this route (the example is type-checked without an app).
import type * as Kit from '@sveltejs/kit';

export type RequestHandler = Kit.RequestHandler<{ slug: string }, '/webhooks/[slug]'>;
