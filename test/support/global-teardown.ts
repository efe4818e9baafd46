/** Jest global teardown: stop what the global setup started (the control plane first: it holds no data we keep). */
export default async function globalTeardown(): Promise<void> {
  await globalThis.__TEST_KUBE__?.stop();
  await globalThis.__TEST_REGISTRY__?.stop();
  globalThis.__TEST_PG__?.stop();
}
