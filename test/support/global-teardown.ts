export default async function globalTeardown(): Promise<void> {
  globalThis.__TEST_PG__?.stop();
}
