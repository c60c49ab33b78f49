{{/* Names and labels. */}}
{{- define "triage.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "triage.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "triage.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Immutable: a Deployment's selector never changes after install. */}}
{{- define "triage.selectorLabels" -}}
app.kubernetes.io/name: {{ include "triage.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "triage.labels" -}}
helm.sh/chart: {{ include "triage.chart" . }}
{{ include "triage.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: router
app.kubernetes.io/part-of: triage
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "triage.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "triage.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "triage.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* Fixed paths inside the pod. */}}
{{- define "triage.socket" -}}/var/run/triage/triage.sock{{- end -}}
{{- define "triage.configPath" -}}/etc/triage/triage.yaml{{- end -}}
{{- define "triage.bootstrapPath" -}}/etc/envoy/envoy.yaml{{- end -}}
{{- define "triage.sdsDir" -}}/etc/envoy-sds{{- end -}}
{{- define "triage.keysDir" -}}/var/run/secrets/triage{{- end -}}
{{- define "triage.feedbackKeyDir" -}}/var/run/secrets/triage-feedback{{- end -}}
{{- define "triage.storePath" -}}/var/lib/triage/store{{- end -}}

{{/* The embedded configuration's demo key (src/triage/defaults/triage.yaml; a test keeps the two equal): it never
signs ids in a cluster. */}}
{{- define "triage.demoIdSecret" -}}triage-demo-id-key-change-me{{- end -}}

{{/* The Secret holding the feedback id key: feedback.idKey.existingSecret, the one the chart creates from
feedback.idKey.value, or "" for none. */}}
{{- define "triage.feedbackKeySecret" -}}
{{- $k := .Values.feedback.idKey -}}
{{- if and $k.existingSecret $k.value -}}
{{- fail "feedback.idKey: set existingSecret or value, not both" -}}
{{- end -}}
{{- if eq (toString $k.value) (include "triage.demoIdSecret" .) -}}
{{- fail "feedback.idKey.value is the embedded configuration's demo key: make a real one (openssl rand -hex 32)" -}}
{{- end -}}
{{- if $k.existingSecret -}}
{{- $k.existingSecret -}}
{{- else if $k.value -}}
{{- printf "%s-feedback-id" (include "triage.fullname" .) -}}
{{- end -}}
{{- end -}}

{{/* Bytes from an integer or a quantity with a binary suffix ("512Mi", "1Gi"; the schema allows only those). */}}
{{- define "triage.bytes" -}}
{{- if kindIs "string" . -}}
{{- $n := regexFind "^[0-9]+" . -}}
{{- $unit := get (dict "" 1 "Ki" 1024 "Mi" 1048576 "Gi" 1073741824 "Ti" 1099511627776) (trimPrefix $n .) -}}
{{- printf "%d" (mul (int64 $n) (int64 $unit)) -}}
{{- else -}}
{{- printf "%d" (int64 .) -}}
{{- end -}}
{{- end -}}

{{/* The store volume's emptyDir sizeLimit: store.volume.sizeLimit, or twice store.maxBytes (in Mi, rounded up). */}}
{{- define "triage.storeSizeLimit" -}}
{{- $max := include "triage.bytes" .Values.store.maxBytes | int64 -}}
{{- with .Values.store.volume.sizeLimit -}}
{{- if le (include "triage.bytes" . | int64) $max -}}
{{- fail (printf "store.volume.sizeLimit (%s) must be larger than store.maxBytes (%s): a segment still being written is never pruned, and a pod whose emptyDir passes its sizeLimit is evicted" . (toString $.Values.store.maxBytes)) -}}
{{- end -}}
{{- . -}}
{{- else -}}
{{- $mi := add1 (div (sub (mul 2 $max) 1) 1048576) -}}
{{- if eq (mod $mi 1024) 0 -}}{{ div $mi 1024 }}Gi{{- else -}}{{ $mi }}Mi{{- end -}}
{{- end -}}
{{- end -}}

{{/* Triage's Service host as the mesh knows it. */}}
{{- define "triage.serviceHost" -}}
{{- printf "%s.%s.svc.%s" (include "triage.fullname" .) .Release.Namespace .Values.istio.clusterDomain -}}
{{- end -}}

{{/* The generator's pieces (src/triage/envoy/mesh.py writes the file; a test keeps it current). */}}
{{- define "triage.parts" -}}
{{- .Files.Get "files/envoy-parts.json" -}}
{{- end -}}

{{/* The configuration keys this chart owns in each mode: the pod's wiring, not the user's choice. */}}
{{- define "triage.ownedConfig" -}}
{{- $metrics := dict -}}
{{- if .Values.metrics.enabled -}}
{{- $metrics = dict "metrics_listen" (printf "0.0.0.0:%d" (int .Values.ports.metrics)) -}}
{{- end -}}
{{- $grpc := printf "0.0.0.0:%d" (int .Values.ports.grpc) -}}
{{- if eq .Values.mode "standalone" -}}
{{- $sock := printf "unix:%s" (include "triage.socket" .) -}}
{{- toYaml (dict
    "server" (dict "listen" (list $sock $grpc))
    "envoy" (dict "extproc" $sock "listen" (printf "0.0.0.0:%d" (int .Values.envoy.port)))
    "telemetry" $metrics) -}}
{{- else -}}
{{- toYaml (dict "server" (dict "listen" (list $grpc)) "envoy" (dict "health_poll_ms" 0) "telemetry" $metrics) -}}
{{- end -}}
{{- end -}}

{{/* `over` merged into `base`, maps deeply, everything else replaced (Sprig's merge functions skip false, 0 and "",
which are real settings here). Arguments: (list $base $over); returns JSON. */}}
{{- define "triage.merge" -}}
{{- $base := deepCopy (index . 0) -}}
{{- range $k, $v := index . 1 -}}
{{- if and (kindIs "map" $v) (kindIs "map" (get $base $k)) -}}
{{- $_ := set $base $k (include "triage.merge" (list (get $base $k) $v) | fromJson) -}}
{{- else -}}
{{- $_ := set $base $k $v -}}
{{- end -}}
{{- end -}}
{{- toJson $base -}}
{{- end -}}

{{/* The configuration the chart derives from its own values (feedback.idKey, store.*), whatever `config` says: those
keys in `config` are refused, the demo key above all (it would sign ids in a cluster, and sit in a ConfigMap). */}}
{{- define "triage.valuesConfig" -}}
{{- $fb := .Values.config.feedback | default dict -}}
{{- $store := .Values.config.store | default dict -}}
{{- if hasKey $fb "id_secret" -}}
{{- fail "config.feedback.id_secret would put the decision ids' key in a ConfigMap (and the embedded configuration's demo key must never sign ids in a cluster): give it as feedback.idKey.existingSecret or feedback.idKey.value, the chart mounts it and sets id_secret_file" -}}
{{- end -}}
{{- if hasKey $fb "id_secret_file" -}}
{{- fail "config.feedback.id_secret_file is set by the chart: give the key as feedback.idKey.existingSecret or feedback.idKey.value" -}}
{{- end -}}
{{- range $key, $value := dict "path" "store.enabled" "retention_days" "store.retentionDays" "max_bytes" "store.maxBytes" "segment_seconds" "store.segmentSeconds" "otlp_logs" "store.otlpLogs" -}}
{{- if hasKey $store $key -}}
{{- fail (printf "config.store.%s is set by the chart: use %s" $key $value) -}}
{{- end -}}
{{- end -}}
{{- $out := dict -}}
{{- $secret := include "triage.feedbackKeySecret" . -}}
{{- if $secret -}}
{{- $_ := set $out "feedback" (dict "id_secret_file" (printf "%s/%s" (include "triage.feedbackKeyDir" .) .Values.feedback.idKey.key)) -}}
{{- else if and (hasKey $fb "enabled") $fb.enabled -}}
{{- fail "config.feedback.enabled is true but no key signs the decision ids: set feedback.idKey.existingSecret (or feedback.idKey.value), one key shared by every replica, or set config.feedback.enabled: false" -}}
{{- else -}}
{{- $_ := set $out "feedback" (dict "enabled" false) -}}
{{- end -}}
{{- $s := dict -}}
{{- if .Values.store.enabled -}}
{{- $s = dict "path" (include "triage.storePath" .) "retention_days" (int64 .Values.store.retentionDays) "max_bytes" (include "triage.bytes" .Values.store.maxBytes | int64) "segment_seconds" (int64 .Values.store.segmentSeconds) -}}
{{- end -}}
{{- if and $store.capture (not .Values.store.enabled) -}}
{{- fail "config.store.capture writes to the store's segments: set store.enabled" -}}
{{- end -}}
{{- if .Values.store.otlpLogs -}}
{{- if not (.Values.config.telemetry | default dict).otlp_endpoint -}}
{{- fail "store.otlpLogs sends the store's records to config.telemetry.otlp_endpoint (an OpenTelemetry Collector): set it" -}}
{{- end -}}
{{- $_ := set $s "otlp_logs" true -}}
{{- end -}}
{{- if $s -}}
{{- $_ := set $out "store" $s -}}
{{- end -}}
{{- toYaml $out -}}
{{- end -}}

{{/* The effective triage.yaml: `config` with the owned keys set; a conflicting value in `config` is an error. */}}
{{- define "triage.config" -}}
{{- $cfg := deepCopy .Values.config -}}
{{- $owned := include "triage.ownedConfig" . | fromYaml -}}
{{- range $section, $keys := $owned -}}
{{- $mine := get $cfg $section | default dict -}}
{{- range $key, $want := $keys -}}
{{- if and (hasKey $mine $key) (ne (toJson (get $mine $key)) (toJson $want)) -}}
{{- fail (printf "config.%s.%s is set by the chart in mode %s (%s); remove it from config (it was %s)" $section $key $.Values.mode (toJson $want) (toJson (get $mine $key))) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- $owned = include "triage.merge" (list $owned (include "triage.valuesConfig" . | fromYaml)) | fromJson -}}
{{- include "triage.merge" (list $cfg $owned) | fromJson | toYaml -}}
{{- end -}}

{{/* The feedback API's state in the rendered configuration: "on", "off" (config.feedback.enabled: false) or
"no-key" (off because no feedback.idKey is given). */}}
{{- define "triage.feedbackState" -}}
{{- $fb := .Values.config.feedback | default dict -}}
{{- if and (hasKey $fb "enabled") (not $fb.enabled) -}}
off
{{- else if include "triage.feedbackKeySecret" . -}}
on
{{- else -}}
no-key
{{- end -}}
{{- end -}}

{{/* Exactly the parts of the configuration the Envoy side reads (src/triage/envoy/bootstrap.py; of `feedback`: the API's
route, transcoder and JWT rule, and whether ext_proc forwards the principal): a change rolls the pods, a policy or
tier change does not (Triage reloads those). */}}
{{- define "triage.envoyChecksum" -}}
{{- $cfg := include "triage.config" . | fromYaml -}}
{{- $fb := $cfg.feedback | default dict -}}
{{- $envoySide := pick $cfg "clusters" "routes" "default_route" "envoy" "retries" "tier_source" -}}
{{- $_ := set $envoySide "feedback" (pick $fb "enabled" "http_path" "principal" "require_principal" "max_event_bytes") -}}
{{- $_ = set $envoySide.feedback "implicit" (pick ($fb.implicit | default dict) "enabled") -}}
{{- $envoySide | toJson | sha256sum -}}
{{- end -}}

{{/* Restricted pod security for every container. */}}
{{- define "triage.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Gateway API duration ("500ms", "2s") from milliseconds. */}}
{{- define "triage.duration" -}}
{{- $ms := int . -}}
{{- if eq (mod $ms 1000) 0 -}}{{ div $ms 1000 }}s{{- else -}}{{ $ms }}ms{{- end -}}
{{- end -}}

{{/* Envoy duration ("0.500s") from milliseconds, as the generator writes it. */}}
{{- define "triage.envoyDuration" -}}
{{- printf "%.3fs" (divf (float64 .) 1000) -}}
{{- end -}}

{{/* A DNS-label form of a Triage name (cluster and route names may hold "_" and "."). */}}
{{- define "triage.dnsLabel" -}}
{{- . | lower | replace "_" "-" | replace "." "-" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The configuration with the schema's defaults filled in where the Envoy side reads them (the defaults come from
the schema itself, through files/envoy-parts.json). */}}
{{- define "triage.resolvedConfig" -}}
{{- $cfg := include "triage.config" . | fromYaml -}}
{{- $defaults := (include "triage.parts" . | fromJson).config_defaults -}}
{{- $_ := set $cfg "envoy" (include "triage.merge" (list $defaults.envoy ($cfg.envoy | default dict)) | fromJson) -}}
{{- $_ = set $cfg "retries" (include "triage.merge" (list $defaults.retries ($cfg.retries | default dict)) | fromJson) -}}
{{- $clusters := dict -}}
{{- range $name, $c := $cfg.clusters -}}
{{- $_ = set $clusters $name (include "triage.merge" (list $defaults.cluster $c) | fromJson) -}}
{{- end -}}
{{- $_ = set $cfg "clusters" $clusters -}}
{{- toYaml $cfg -}}
{{- end -}}

{{/* The metadata namespaces ext_proc forwards to Triage, as the generator chooses them: the tier's, and the feedback
principal's when implicit signals are on (they are per principal). Returns a JSON list. */}}
{{- define "triage.forwardedNamespaces" -}}
{{- $cfg := include "triage.config" . | fromYaml -}}
{{- $forward := list -}}
{{- with (($cfg.tier_source | default dict).metadata) -}}{{- $forward = list .namespace -}}{{- end -}}
{{- $fb := $cfg.feedback | default dict -}}
{{- $on := ternary $fb.enabled true (hasKey $fb "enabled") -}}
{{- $implicit := $fb.implicit | default dict -}}
{{- if and $on (ternary $implicit.enabled true (hasKey $implicit "enabled")) -}}
{{- $ns := ($fb.principal | default dict).namespace | default "envoy.filters.http.jwt_authn" -}}
{{- if not (has $ns $forward) -}}{{- $forward = append $forward $ns -}}{{- end -}}
{{- end -}}
{{- toJson $forward -}}
{{- end -}}

{{/* The ext_proc filter the generator emits, with the fields that depend on config filled in and grpc_service
set to the second argument. Arguments: (list $root $grpcService). */}}
{{- define "triage.extProcFilter" -}}
{{- $root := index . 0 -}}
{{- $cfg := include "triage.resolvedConfig" $root | fromYaml -}}
{{- $filter := (include "triage.parts" $root | fromJson).ext_proc_filter -}}
{{- $tc := $filter.typed_config -}}
{{- $_ := set $tc "grpc_service" (index . 1) -}}
{{- $_ = set $tc "failure_mode_allow" $cfg.envoy.failure_mode_allow -}}
{{- $_ = set $tc "message_timeout" (include "triage.envoyDuration" $cfg.envoy.message_timeout_ms) -}}
{{- $_ = set $tc.metadata_options.forwarding_namespaces "untyped" (include "triage.forwardedNamespaces" $root | fromJsonArray) -}}
{{- toJson $filter -}}
{{- end -}}

{{/* The client headers a provider must not see on a rule whose first step is `cluster` (the bootstrap's per-attempt
scrub): client credentials unless the cluster passes them on, session cookies always, never the header the chart
injects the provider's own key into. Arguments: (list $root $clusterName $cluster); returns JSON. */}}
{{- define "triage.providerScrub" -}}
{{- $root := index . 0 -}}
{{- $parts := include "triage.parts" $root | fromJson -}}
{{- $cluster := index . 2 -}}
{{- $headers := $parts.client_session_headers -}}
{{- if not $cluster.pass_client_credentials -}}
{{- $headers = concat $parts.client_credential_headers $headers -}}
{{- end -}}
{{- if hasKey $root.Values.credentials (index . 1) -}}
{{- $headers = without $headers (($cluster.credential | default dict).header | default "authorization") -}}
{{- end -}}
{{- toJson $headers -}}
{{- end -}}
