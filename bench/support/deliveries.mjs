/** Signed webhook deliveries, `inFlight` at a time, as GitHub would send them; the latency of each in ms. */
import { createHmac } from "node:crypto";

export async function signedBurst(url, deliveries, inFlight, secret) {
  const times = [];
  let next = 0;
  const worker = async () => {
    while (next < deliveries.length) {
      const { event, body } = deliveries[next++];
      const t = performance.now();
      const res = await fetch(url, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "x-github-event": event,
          "x-github-delivery": crypto.randomUUID(),
          "x-hub-signature-256": `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`,
        },
        body,
      });
      await res.arrayBuffer();
      if (res.status >= 300) throw new Error(`delivery answered ${res.status}`);
      times.push(performance.now() - t);
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  return times;
}
