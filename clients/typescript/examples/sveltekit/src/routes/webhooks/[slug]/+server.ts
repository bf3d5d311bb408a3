import { json } from '@sveltejs/kit';
import { EngineProblemError } from '@meshhook/engine-client';
import { engine } from '$lib/server/engine';
import type { RequestHandler } from './$types';

// Forwards a webhook to the engine as it came: the same bytes, so the sender's signature still holds.
export const POST: RequestHandler = async ({ params, request }) => {
	const forwarded: Record<string, string> = {};
	for (const name of ['x-hub-signature-256', 'x-signature', 'x-signature-timestamp']) {
		const value = request.headers.get(name);
		if (value !== null) forwarded[name] = value;
	}
	try {
		const { runId, replayed } = await engine.trigger(params.slug, {
			rawBody: new Uint8Array(await request.arrayBuffer()),
			idempotencyKey: request.headers.get('idempotency-key') ?? undefined,
			headers: forwarded
		});
		return json({ runId, replayed }, { status: 202 });
	} catch (e) {
		if (e instanceof EngineProblemError) {
			return json(e.problem, { status: e.status, headers: { 'content-type': 'application/problem+json' } });
		}
		throw e;
	}
};
