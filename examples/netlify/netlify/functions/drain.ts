// Every minute: process what the webhook stored, within the 30 s a scheduled function gets.
// Netlify invokes it with a POST whose JSON body carries `next_run`; it takes no other input.
import type { Config, Context } from '@netlify/functions';
import { deployedApp } from './_shared/env.ts';

export default async (_request: Request, context: Context): Promise<Response> => {
  const result = await (await deployedApp()).drain(20_000);
  // one log line per run, with Netlify's request id to find it in the function log
  console.log(JSON.stringify({ fn: 'drain', requestId: context.requestId, ...result }));
  return Response.json({ ...result, requestId: context.requestId });
};

export const config: Config = { schedule: '* * * * *' };
