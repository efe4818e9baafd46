/**
 * BlobStore: the backups' view of Azure Blob Storage. Production authenticates with Workload Identity
 * (`WorkloadIdentityCredential` when AZURE_FEDERATED_TOKEN_FILE is set, else `DefaultAzureCredential`) against
 * AZURE_STORAGE_ACCOUNT_URL; development and tests use AZURE_STORAGE_CONNECTION_STRING (Azurite). Neither the key
 * nor a token is ever logged: errors carry only the operation, container, blob and status.
 */
import type { Readable } from "node:stream";
import { DefaultAzureCredential, WorkloadIdentityCredential, type TokenCredential } from "@azure/identity";
import { BlobServiceClient, RestError } from "@azure/storage-blob";
import { redactText, registerSecret } from "../../../logger.js";

export interface StoredBlob {
  name: string;
  size: number;
  lastModified: Date;
  etag: string;
  metadata: Record<string, string>;
}

export interface BlobStore {
  /** Human description of where blobs go (account URL or "connection string (<account>)"), never a secret. */
  readonly location: string;
  ensureContainer(container: string): Promise<void>;
  /**
   * Stream `body` into a block blob (4 MiB blocks, 4 in flight). The blob is committed only when `body` ends
   * normally; if `body` is destroyed with an error the upload rejects and nothing is committed. `metadata` is read
   * at commit time, so the caller may fill it (size, checksum) before ending `body`. Refuses to overwrite.
   */
  upload(container: string, name: string, body: Readable, metadata: Record<string, string>): Promise<void>;
  list(container: string, prefix: string): Promise<StoredBlob[]>;
  /** undefined when the blob does not exist. */
  get(container: string, name: string): Promise<StoredBlob | undefined>;
  download(container: string, name: string): Promise<Readable>;
  /** Replace the metadata, only if the blob is unchanged since `etag`. */
  setMetadata(container: string, name: string, metadata: Record<string, string>, etag: string): Promise<void>;
  delete(container: string, name: string): Promise<"deleted" | "absent">;
}

export interface BlobStoreSettings {
  /** https://<account>.blob.core.windows.net — used with a token credential. */
  accountUrl?: string;
  /** Development / tests only (Azurite). */
  connectionString?: string;
  /** With accountUrl: Workload Identity / DefaultAzureCredential (defaultCredential), or another token credential. */
  credential?: TokenCredential;
}

const UPLOAD_BLOCK_BYTES = 4 * 1024 * 1024;
const UPLOAD_CONCURRENCY = 4;

/** Workload Identity when the AKS webhook injected its variables, else the DefaultAzureCredential chain. */
export function defaultCredential(env: NodeJS.ProcessEnv): TokenCredential {
  // A custom authority (sovereign cloud, ADFS, a local stub) cannot be checked by instance discovery.
  const authority = env.AZURE_AUTHORITY_HOST;
  const disableInstanceDiscovery = !!authority && !/^https:\/\/login\.microsoftonline\.com\/?$/.test(authority);
  if (env.AZURE_FEDERATED_TOKEN_FILE) {
    return new WorkloadIdentityCredential({
      ...(env.AZURE_TENANT_ID ? { tenantId: env.AZURE_TENANT_ID } : {}),
      ...(env.AZURE_CLIENT_ID ? { clientId: env.AZURE_CLIENT_ID } : {}),
      tokenFilePath: env.AZURE_FEDERATED_TOKEN_FILE,
      ...(authority ? { authorityHost: authority } : {}),
      disableInstanceDiscovery,
    });
  }
  return new DefaultAzureCredential({ disableInstanceDiscovery });
}

/** From AZURE_STORAGE_ACCOUNT_URL (preferred) or AZURE_STORAGE_CONNECTION_STRING. */
export function blobStoreFromEnv(env: NodeJS.ProcessEnv): BlobStore {
  if (env.AZURE_STORAGE_ACCOUNT_URL)
    return createBlobStore({ accountUrl: env.AZURE_STORAGE_ACCOUNT_URL, credential: defaultCredential(env) });
  if (env.AZURE_STORAGE_CONNECTION_STRING)
    return createBlobStore({ connectionString: env.AZURE_STORAGE_CONNECTION_STRING });
  throw new Error(
    "backups need blob storage: set AZURE_STORAGE_ACCOUNT_URL (Workload Identity) or AZURE_STORAGE_CONNECTION_STRING (development)",
  );
}

function statusOf(err: unknown): number | undefined {
  return err instanceof RestError ? err.statusCode : undefined;
}

function fail(what: string, err: unknown): Error {
  const status = statusOf(err);
  const code = err instanceof RestError ? err.code : undefined;
  const detail = status ? `${status}${code ? ` ${code}` : ""}` : redactText((err as Error)?.message ?? String(err));
  return new Error(`${what}: ${detail}`, { cause: err });
}

/** The real store: one BlobServiceClient, every call's failure described by operation, container, blob and status. */
class AzureBlobStore implements BlobStore {
  readonly location: string;
  private readonly service: BlobServiceClient;

  constructor(settings: BlobStoreSettings) {
    if (settings.connectionString) {
      const key = /AccountKey=([^;]+)/i.exec(settings.connectionString)?.[1];
      registerSecret(key);
      this.service = BlobServiceClient.fromConnectionString(settings.connectionString);
      this.location = `connection string (${this.service.accountName})`;
    } else if (settings.accountUrl) {
      if (!settings.credential)
        throw new Error("blob store: an accountUrl needs a token credential (defaultCredential)");
      this.service = new BlobServiceClient(settings.accountUrl, settings.credential);
      this.location = settings.accountUrl;
    } else {
      throw new Error("blob store: give accountUrl (with a token credential) or connectionString");
    }
  }

  private blob(container: string, name: string) {
    return this.service.getContainerClient(container).getBlockBlobClient(name);
  }

  async ensureContainer(container: string): Promise<void> {
    try {
      await this.service.getContainerClient(container).createIfNotExists();
    } catch (err) {
      throw fail(`creating blob container "${container}"`, err);
    }
  }

  async upload(container: string, name: string, body: Readable, metadata: Record<string, string>): Promise<void> {
    try {
      await this.blob(container, name).uploadStream(body, UPLOAD_BLOCK_BYTES, UPLOAD_CONCURRENCY, {
        metadata,
        blobHTTPHeaders: { blobContentType: "application/octet-stream" },
        conditions: { ifNoneMatch: "*" },
      });
    } catch (err) {
      if (statusOf(err) === undefined && err instanceof Error) throw err; // the source stream's own error, already descriptive
      throw fail(`uploading blob "${container}/${name}"`, err);
    }
  }

  async list(container: string, prefix: string): Promise<StoredBlob[]> {
    const out: StoredBlob[] = [];
    try {
      for await (const item of this.service
        .getContainerClient(container)
        .listBlobsFlat({ prefix, includeMetadata: true })) {
        out.push({
          name: item.name,
          size: item.properties.contentLength ?? 0,
          lastModified: item.properties.lastModified,
          etag: item.properties.etag ?? "",
          metadata: item.metadata ?? {},
        });
      }
    } catch (err) {
      if (statusOf(err) === 404) return []; // no container yet: no backups
      throw fail(`listing blobs "${container}/${prefix}*"`, err);
    }
    return out;
  }

  async get(container: string, name: string): Promise<StoredBlob | undefined> {
    try {
      const p = await this.blob(container, name).getProperties();
      return {
        name,
        size: p.contentLength ?? 0,
        lastModified: p.lastModified ?? new Date(0),
        etag: p.etag ?? "",
        metadata: p.metadata ?? {},
      };
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw fail(`reading blob properties "${container}/${name}"`, err);
    }
  }

  async download(container: string, name: string): Promise<Readable> {
    try {
      const res = await this.blob(container, name).download(0, undefined, { maxRetryRequests: 5 });
      if (!res.readableStreamBody) throw new Error("no body in the download response");
      return res.readableStreamBody as Readable;
    } catch (err) {
      throw fail(`downloading blob "${container}/${name}"`, err);
    }
  }

  async setMetadata(container: string, name: string, metadata: Record<string, string>, etag: string): Promise<void> {
    try {
      await this.blob(container, name).setMetadata(metadata, { conditions: { ifMatch: etag } });
    } catch (err) {
      throw fail(`setting metadata on blob "${container}/${name}"`, err);
    }
  }

  async delete(container: string, name: string): Promise<"deleted" | "absent"> {
    try {
      await this.blob(container, name).delete({ deleteSnapshots: "include" });
      return "deleted";
    } catch (err) {
      if (statusOf(err) === 404) return "absent";
      throw fail(`deleting blob "${container}/${name}"`, err);
    }
  }
}

export function createBlobStore(settings: BlobStoreSettings): BlobStore {
  return new AzureBlobStore(settings);
}
