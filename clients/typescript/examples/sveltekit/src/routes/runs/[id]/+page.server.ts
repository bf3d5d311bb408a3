import { error } from '@sveltejs/kit';
import { EngineProblemError } from '@meshhook/engine-client';
import { engine } from '$lib/server/engine';
import type { PageServerLoad } from './$types';

// The run and its history, for a page that shows both.
export const load: PageServerLoad = async ({ params }) => {
	try {
		const [run, events] = await Promise.all([engine.getRun(params.id), engine.history(params.id)]);
		return { run, events };
	} catch (e) {
		if (e instanceof EngineProblemError && e.status === 404) error(404, `no run ${params.id}`);
		throw e;
	}
};
