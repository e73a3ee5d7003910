{{/* The key's Secret: an existing one (the default), or the chart's when apiKey is given. */}}
{{- define "spot-agent.secretName" -}}
{{- if .Values.apiKey -}}{{ .Release.Name }}-key{{- else -}}{{ required "existingSecret (a Secret holding the agent key) or apiKey is required" .Values.existingSecret }}{{- end -}}
{{- end -}}

{{- define "spot-agent.secretKey" -}}
{{- if .Values.apiKey -}}api-key{{- else -}}{{ .Values.existingSecretKey }}{{- end -}}
{{- end -}}

{{- define "spot-agent.image" -}}
{{ .Values.image.repository }}:{{ default .Chart.AppVersion .Values.image.tag }}
{{- end -}}

{{- define "spot-agent.env" -}}
- name: SPOT_AGENT_CONTROL_PLANE
  value: {{ required "controlPlane is required" .Values.controlPlane | quote }}
- name: SPOT_AGENT_API_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "spot-agent.secretName" . }}
      key: {{ include "spot-agent.secretKey" . }}
- name: NODE_NAME
  valueFrom:
    fieldRef:
      fieldPath: spec.nodeName
{{- end -}}
