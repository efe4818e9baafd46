/** Address ranges (CIDRs) of either family, compared without a library: is one inside another. */
import { isIPv4, isIPv6 } from "node:net";

/** `inner` lies inside `outer` (both CIDRs of one family); false for anything unparsable. */
export function cidrWithin(inner: string, outer: string): boolean {
  const a = parseCidr(inner);
  const b = parseCidr(outer);
  if (!a || !b || a.width !== b.width || a.prefix < b.prefix) return false;
  const shift = BigInt(b.width - b.prefix);
  return a.bits >> shift === b.bits >> shift;
}

function parseCidr(text: string): { bits: bigint; prefix: number; width: number } | undefined {
  const [address = "", prefixText = ""] = text.split("/");
  const prefix = Number(prefixText);
  if (!/^\d{1,3}$/.test(prefixText)) return undefined;
  if (isIPv4(address) && prefix <= 32)
    return { bits: address.split(".").reduce((acc, o) => (acc << 8n) | BigInt(o), 0n), prefix, width: 32 };
  if (!isIPv6(address) || prefix > 128 || address.includes(".")) return undefined;
  const [head = "", tail] = address.split("::");
  const groups = (s: string): string[] => (s === "" ? [] : s.split(":"));
  const left = groups(head);
  const right = tail === undefined ? [] : groups(tail);
  const all = [...left, ...Array<string>(8 - left.length - right.length).fill("0"), ...right];
  return { bits: all.reduce((acc, g) => (acc << 16n) | BigInt(`0x${g}`), 0n), prefix, width: 128 };
}
