// PLACEHOLDER until the handlers land (issue 3): the CDK stack needs the entry file to exist for synth.
export async function handler(): Promise<never> {
  throw new Error('handler not wired yet');
}
