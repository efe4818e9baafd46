/** Jest global teardown: stop what the global setup started (the control plane first: it holds no data we keep). */
export default async function globalTeardown(): Promise<void> {
  await globalThis.__TEST_KUBE__?.stop();
  const registry = globalThis.__TEST_REGISTRY__;
  if (registry) {
    // the closing note the image gate promises: manifest reads by anything but the test's own push/tag client
    const reads = registry
      .log()
      .filter((e) => e.path.includes("/manifests/") && !e.ua?.startsWith("preview-registry-client"));
    const count = (m: string) => reads.filter((e) => e.method === m).length;
    console.log(
      `OCI registry: ${count("HEAD")} manifest HEADs, ${count("GET")} manifest GETs this run (target 0 GETs)`,
    );
    await registry.stop();
  }
  globalThis.__TEST_PG__?.stop();
}
