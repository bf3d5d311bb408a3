// Stand-in for the `$env/dynamic/private` module `svelte-kit sync` declares from the app's environment.
declare module '$env/dynamic/private' {
	export const env: Record<string, string | undefined>;
}
