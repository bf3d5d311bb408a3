import { env } from '$env/dynamic/private';
import { createEngineClient } from '@meshhook/engine-client';

// One client for the server side of the app; the API key never reaches the browser.
export const engine = createEngineClient({
	baseUrl: env.MESHHOOK_URL ?? 'http://127.0.0.1:8080',
	apiKey: env.MESHHOOK_API_KEY
});
