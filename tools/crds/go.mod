// Fetches the Gateway API CRD YAML (config/crd/standard) from its Go module at a pinned release; nothing is built.
module previewbot.local/tools/crds

go 1.26.0

require sigs.k8s.io/gateway-api v1.6.3
