// Stand-in for the file `svelte-kit sync` generates for this route (the example is type-checked without an app).
import type * as Kit from '@sveltejs/kit';

export type PageServerLoad = Kit.ServerLoad<{ id: string }, Record<string, never>, Record<string, unknown> | void, '/runs/[id]'>;
