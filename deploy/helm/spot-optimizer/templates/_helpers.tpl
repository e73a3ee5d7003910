{{/* Names and labels. */}}

{{- define "spot-optimizer.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 50 | trimSuffix "-" -}}
{{- else if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "spot-optimizer.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "spot-optimizer.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "spot-optimizer.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: spot-optimizer
{{- end -}}

{{- define "spot-optimizer.image" -}}
{{ .Values.image.repository }}:{{ default .Chart.AppVersion .Values.image.tag }}
{{- end -}}

{{/* The Secret every process reads its credentials from (envFrom). */}}
{{- define "spot-optimizer.secretName" -}}
{{- default (include "spot-optimizer.fullname" .) .Values.existingSecret -}}
{{- end -}}

{{- define "spot-optimizer.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "spot-optimizer.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/*
The Deployments to run, as YAML: key -> {fullname, args, health, replicas, resources,
autoscaling, edge}. In `split` mode one per platform service (all six must be listed: each
process has to know where the others run); in `single` mode one that runs them all.
*/}}
{{- define "spot-optimizer.components" -}}
{{- $all := list "auth" "cluster" "policy" "billing" "risk" "optimizer" -}}
{{- $fullname := include "spot-optimizer.fullname" . -}}
{{- $components := dict -}}
{{- if eq .Values.mode "split" -}}
{{- range $name := $all -}}
{{- if not (hasKey $.Values.services $name) -}}
{{- fail (printf "services.%s is missing: in mode split every service (%s) runs in its own Deployment" $name (join ", " $all)) -}}
{{- end -}}
{{- end -}}
{{- range $name, $svc := .Values.services -}}
{{- if not (has $name $all) -}}
{{- fail (printf "services.%s is not a platform service (%s)" $name (join ", " $all)) -}}
{{- end -}}
{{- $svc = default dict $svc -}}
{{- $_ := set $components $name (dict
  "fullname" (printf "%s-%s" $fullname $name)
  "args" (list "serve" "--services" $name)
  "health" $name
  "replicas" (default $.Values.replicas $svc.replicas)
  "resources" (default $.Values.resources $svc.resources)
  "autoscaling" (mergeOverwrite (deepCopy $.Values.autoscaling) (default dict $svc.autoscaling))
  "edge" (eq $name $.Values.edge)) -}}
{{- end -}}
{{- if not (hasKey $components .Values.edge) -}}
{{- fail (printf "edge: %q is not one of the services; it names the service the Ingress reaches" .Values.edge) -}}
{{- end -}}
{{- else if eq .Values.mode "single" -}}
{{- $single := default dict .Values.single -}}
{{- $_ := set $components "all" (dict
  "fullname" $fullname
  "args" (list "serve")
  "health" ""
  "replicas" (default .Values.replicas $single.replicas)
  "resources" (default .Values.resources $single.resources)
  "autoscaling" (mergeOverwrite (deepCopy .Values.autoscaling) (default dict $single.autoscaling))
  "edge" true) -}}
{{- else -}}
{{- fail (printf "mode: %q is neither split nor single" .Values.mode) -}}
{{- end -}}
{{- toYaml $components -}}
{{- end -}}

{{/* The Service the Ingress reaches: every process serves the web app and forwards the calls it
does not answer itself, so one is enough. */}}
{{- define "spot-optimizer.edgeName" -}}
{{- if eq .Values.mode "single" -}}
{{- include "spot-optimizer.fullname" . -}}
{{- else -}}
{{- printf "%s-%s" (include "spot-optimizer.fullname" .) .Values.edge -}}
{{- end -}}
{{- end -}}

{{/*
Where agents reach the platform (SPOT_PUBLIC_URL, used in their install command): publicUrl, or
the Ingress's native gRPC host, or its first host.
*/}}
{{- define "spot-optimizer.publicUrl" -}}
{{- if .Values.publicUrl -}}
{{- .Values.publicUrl -}}
{{- else if .Values.ingress.enabled -}}
{{- $host := default (first .Values.ingress.hosts) .Values.ingress.grpc.host -}}
{{- printf "%s://%s" (ternary "https" "http" (gt (len .Values.ingress.tls) 0)) $host -}}
{{- end -}}
{{- end -}}

{{/* Pod and container security: non-root, read-only root filesystem, no capabilities. */}}
{{- define "spot-optimizer.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.securityContext.runAsUser }}
runAsGroup: {{ .Values.securityContext.runAsUser }}
fsGroup: {{ .Values.securityContext.runAsUser }}
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "spot-optimizer.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: ["ALL"]
{{- end -}}

{{/* The only writable place, /tmp: the image's data dir (/tmp/spot-data) for local state. */}}
{{- define "spot-optimizer.tmpVolume" -}}
- name: tmp
  emptyDir:
    sizeLimit: 256Mi
{{- end -}}

{{- define "spot-optimizer.tmpMount" -}}
- name: tmp
  mountPath: /tmp
{{- end -}}

{{/* OpenTelemetry: traces by OTLP/gRPC when an endpoint is set (headers, which may hold a
token, come from the Secret as OTEL_EXPORTER_OTLP_HEADERS). */}}
{{- define "spot-optimizer.otlpEnv" -}}
{{- $env := list -}}
{{- if .Values.otlp.endpoint -}}
{{- $env = append $env (dict "name" "OTEL_EXPORTER_OTLP_ENDPOINT" "value" .Values.otlp.endpoint) -}}
{{- with .Values.otlp.timeoutMillis -}}
{{- $env = append $env (dict "name" "OTEL_EXPORTER_OTLP_TIMEOUT" "value" (toString .)) -}}
{{- end -}}
{{- $attributes := list -}}
{{- range $key, $value := .Values.otlp.resourceAttributes -}}
{{- $attributes = append $attributes (printf "%s=%s" $key $value) -}}
{{- end -}}
{{- with $attributes -}}
{{- $env = append $env (dict "name" "OTEL_RESOURCE_ATTRIBUTES" "value" (join "," .)) -}}
{{- end -}}
{{- end -}}
{{- with $env -}}{{ toYaml . }}{{- end -}}
{{- end -}}
