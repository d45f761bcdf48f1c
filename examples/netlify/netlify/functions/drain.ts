// Every minute: process what the webhook stored, within the 30 s a scheduled function gets.
import { deployedApp } from './_shared/env.ts';

export default async (): Promise<Response> => {
  const result = await (await deployedApp()).drain(20_000);
  return Response.json(result);
};

export const config = { schedule: '* * * * *' };
