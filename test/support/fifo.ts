/** A named pipe on disk, for tests that check a reader refuses one (mkfifo(1) from coreutils). */
import { execFileSync } from "node:child_process";

export async function mkfifo(file: string): Promise<void> {
  execFileSync("mkfifo", [file]);
}
