{{- define "spot-agent.secretName" -}}
{{- if .Values.existingSecret -}}{{ .Values.existingSecret }}{{- else -}}{{ .Release.Name }}-key{{- end -}}
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
      key: api-key
- name: NODE_NAME
  valueFrom:
    fieldRef:
      fieldPath: spec.nodeName
{{- end -}}
