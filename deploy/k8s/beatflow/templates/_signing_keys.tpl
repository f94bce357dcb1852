{{/*
Ed25519 signing keys (docs/reliability.md, "Keys and who holds them"): vcs holds the private key of
users' access tokens, generator and separator each their own service key, the gateway none. Each
private key is a Secret of its own, mounted into its service's pods only; the public halves are in
one ConfigMap, as self-signed certificates (the chart cannot write a bare public key).
*/}}

{{- define "beatflow.keysDir" -}}/var/run/beatflow/keys{{- end -}}

{{/* The Secret holding one service's private key. */}}
{{- define "beatflow.keysSecret" -}}
{{ include "beatflow.fullname" .root }}-{{ .name }}-keys
{{- end -}}

{{/* The file in that Secret: vcs signs users' tokens, the others their own service tokens. */}}
{{- define "beatflow.keyFile" -}}
{{ ternary "token-signing.key" "service.key" (eq .name "vcs") }}
{{- end -}}

{{/* A private key in PEM: from values, else the one the release already has, else a new one. */}}
{{- define "beatflow.privateKey" -}}
{{- $existing := lookup "v1" "Secret" .root.Release.Namespace (include "beatflow.keysSecret" .) -}}
{{- $kept := ternary (index ($existing.data | default dict) (include "beatflow.keyFile" .) | default "" | b64dec) "" (not (empty $existing)) -}}
{{- .value | default $kept | default (genPrivateKey "ed25519") -}}
{{- end -}}

{{/* Key settings of one gRPC service: only what it should hold. */}}
{{- define "beatflow.signingKeyEnv" -}}
{{- $p := printf "BEATFLOW_%s_" (upper .name) -}}
{{- $publicKeys := printf "%s-public-keys" (include "beatflow.fullname" .root) -}}
- name: {{ $p }}AUTH__TOKEN_PUBLIC_KEYS
  valueFrom:
    configMapKeyRef:
      name: {{ $publicKeys }}
      key: token-public-keys
{{- if eq .name "vcs" }}
- name: {{ $p }}AUTH__TOKEN_SIGNING_KEY
  value: {{ printf "%s/%s" (include "beatflow.keysDir" .) (include "beatflow.keyFile" .) | quote }}
- name: {{ $p }}AUTH__TOKEN_SIGNING_KEY_ID
  value: {{ .root.Values.auth.signingKeys.tokenKeyId | quote }}
- name: {{ $p }}AUTH__SERVICE_PUBLIC_KEYS
  valueFrom:
    configMapKeyRef:
      name: {{ $publicKeys }}
      key: service-public-keys
{{- else }}
- name: {{ $p }}AUTH__SERVICE_KEY
  value: {{ printf "%s/%s" (include "beatflow.keysDir" .) (include "beatflow.keyFile" .) | quote }}
{{- end }}
{{- end -}}

{{- define "beatflow.signingKeyMount" -}}
- name: signing-keys
  mountPath: {{ include "beatflow.keysDir" . }}
  readOnly: true
{{- end -}}

{{- define "beatflow.signingKeyVolume" -}}
- name: signing-keys
  secret:
    secretName: {{ include "beatflow.keysSecret" . }}
    defaultMode: 288  # 0440: the owner (root) and the pod's fsGroup
{{- end -}}
