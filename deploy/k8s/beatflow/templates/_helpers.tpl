{{- define "beatflow.fullname" -}}
{{- printf "%s-beatflow" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "beatflow.labels" -}}
app.kubernetes.io/name: beatflow
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "beatflow.selector" -}}
app.kubernetes.io/name: beatflow
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* Secret holding a key: the user's existing Secret when named, else the chart's. */}}
{{- define "beatflow.secretRef" -}}
secretKeyRef:
  name: {{ .existing | default (include "beatflow.fullname" .root) }}
  key: {{ .key }}
{{- end -}}

{{- define "beatflow.postgresHost" -}}
{{ include "beatflow.fullname" . }}-postgresql
{{- end -}}

{{- define "beatflow.minioHost" -}}
{{ include "beatflow.fullname" . }}-minio
{{- end -}}

{{/* Settings every gRPC service reads, under its own prefix (BEATFLOW_VCS_, ...). */}}
{{- define "beatflow.serviceEnv" -}}
{{- $p := printf "BEATFLOW_%s_" (upper .name) -}}
{{- $v := .root.Values -}}
- name: {{ $p }}GRPC_HOST
  value: "0.0.0.0"
- name: {{ $p }}GRPC_PORT
  value: {{ (index $v .name).port | quote }}
- name: {{ $p }}LOG_LEVEL
  value: {{ $v.logLevel | quote }}
- name: {{ $p }}DATABASE__URL
  valueFrom:
    {{- include "beatflow.secretRef" (dict "root" .root "existing" $v.postgresql.existingSecret "key" "database-url") | nindent 4 }}
- name: {{ $p }}AUTH__JWT_SECRET
  valueFrom:
    {{- include "beatflow.secretRef" (dict "root" .root "existing" $v.auth.existingSecret "key" (ternary "jwt-secret" "jobs-page-secret" (eq .name "vcs"))) | nindent 4 }}
- name: {{ $p }}AUTH__ACCESS_TOKEN_TTL_SECONDS
  value: {{ $v.auth.accessTokenTtlSeconds | quote }}
- name: {{ $p }}AUTH__SESSION_CHECK_SECONDS
  value: {{ $v.auth.sessionCheckSeconds | quote }}
- name: {{ $p }}OBJECT_STORE__KIND
  value: s3
- name: {{ $p }}OBJECT_STORE__ENDPOINT
  value: {{ ternary (printf "%s:9000" (include "beatflow.minioHost" .root)) $v.objectStore.endpoint $v.objectStore.bundled | quote }}
- name: {{ $p }}OBJECT_STORE__SECURE
  value: {{ and (not $v.objectStore.bundled) $v.objectStore.secure | quote }}
- name: {{ $p }}OBJECT_STORE__REGION
  value: {{ $v.objectStore.region | quote }}
- name: {{ $p }}OBJECT_STORE__BUCKET
  value: {{ $v.objectStore.bucket | quote }}
- name: {{ $p }}OBJECT_STORE__ACCESS_KEY
  valueFrom:
    {{- include "beatflow.secretRef" (dict "root" .root "existing" $v.objectStore.existingSecret "key" "access-key") | nindent 4 }}
- name: {{ $p }}OBJECT_STORE__SECRET_KEY
  valueFrom:
    {{- include "beatflow.secretRef" (dict "root" .root "existing" $v.objectStore.existingSecret "key" "secret-key") | nindent 4 }}
- name: {{ $p }}VCS_ADDRESS
  value: {{ printf "%s-vcs:%v" (include "beatflow.fullname" .root) $v.vcs.port | quote }}
{{- range $key, $value := (index $v .name).env }}
- name: {{ $p }}{{ $key }}
  value: {{ $value | quote }}
{{- end }}
{{- end -}}

{{- define "beatflow.podSecurity" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "beatflow.containerSecurity" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: ["ALL"]
{{- end -}}

{{/* Writable places for a read-only root filesystem: spooling, numba and model caches. */}}
{{- define "beatflow.runtimeEnv" -}}
- name: TMPDIR
  value: /tmp
- name: NUMBA_CACHE_DIR
  value: /tmp/numba
- name: HF_HOME
  value: /tmp/huggingface
- name: HF_HUB_OFFLINE
  value: "1"
- name: MPLCONFIGDIR
  value: /tmp/matplotlib
{{- end -}}
