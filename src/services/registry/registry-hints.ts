/**
 * What to configure when a registry refuses the bot, per registry: the sentence after "refused …" in an
 * unauthorized resolution, naming the setting that holds the bot's credentials (REGISTRY_CREDENTIALS). `via` is the
 * credential description the client tried (`anonymous`, `the credential for …`, `the bot's Azure identity …`).
 */

export const AZURE_IDENTITY = "the bot's Azure identity (Entra token exchanged for an ACR token)";

export function unauthorizedHint(registry: string, via: string): string {
  const anonymous = via === "anonymous";
  if (registry === "ghcr.io") {
    return anonymous
      ? "If the package is private, configure a dockerconfigjson credential for ghcr.io in the bot's REGISTRY_CREDENTIALS: a personal access token (classic) with read:packages from an account that can read the package. A GitHub App installation token cannot pull private GHCR packages."
      : "The token must be a personal access token (classic) with read:packages whose owner can read the package (authorized for the organization if it uses SAML SSO). A GitHub App installation token cannot pull private GHCR packages.";
  }
  if (registry === "docker.io") {
    return anonymous
      ? "Docker Hub answers 401 both for a private repository and for one that does not exist: check the name, or configure a dockerconfigjson credential for docker.io (user and access token) in the bot's REGISTRY_CREDENTIALS."
      : "Check the Docker Hub user and access token, and that the user can read the repository.";
  }
  if (via === AZURE_IDENTITY) {
    return `Grant the bot's identity the AcrPull role on ${registry}; if the registry refuses ARM-audience tokens, ask for the scope https://containerregistry.azure.net/.default instead.`;
  }
  return anonymous
    ? `Configure a dockerconfigjson credential for ${registry} in the bot's REGISTRY_CREDENTIALS.`
    : `Check the credential for ${registry} (user, password or token) and its right to pull this repository.`;
}
