{{- define "jobyard.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}{{ .Release.Name | trunc 50 | trimSuffix "-" }}{{- else -}}{{ printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" }}{{- end -}}
{{- end -}}

{{- define "jobyard.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* selector labels of one component: (dict "root" $ "component" "api") */}}
{{- define "jobyard.selector" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "jobyard.componentLabels" -}}
{{ include "jobyard.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "jobyard.image" -}}
{{ .root.Values.image.repository }}-{{ .service }}:{{ .root.Values.image.tag | default .root.Chart.AppVersion }}
{{- end -}}

{{- define "jobyard.secretName" -}}
{{ .Values.secrets.existingSecret | default (printf "%s-secrets" (include "jobyard.fullname" .)) }}
{{- end -}}

{{- define "jobyard.signingKeysSecret" -}}
{{ .Values.auth.signingKeys.existingSecret | default (printf "%s-signing-keys" (include "jobyard.fullname" .)) }}
{{- end -}}

{{- define "jobyard.authUrl" -}}
http://{{ include "jobyard.fullname" . }}-auth:8001
{{- end -}}

{{/* the environment every Jobyard container shares */}}
{{- define "jobyard.env" -}}
- name: JOBYARD_ENVIRONMENT
  value: {{ .Values.environment | quote }}
- name: JOBYARD_LOG_LEVEL
  value: {{ .Values.logLevel | quote }}
- name: JOBYARD_LOG_FORMAT
  value: json
- name: JOBYARD_MONGODB_URL
  valueFrom: {secretKeyRef: {name: {{ include "jobyard.secretName" . }}, key: mongodb-url}}
- name: JOBYARD_MONGODB_DATABASE
  value: {{ .Values.mongodb.database | quote }}
- name: JOBYARD_REDIS_URL
  valueFrom: {secretKeyRef: {name: {{ include "jobyard.secretName" . }}, key: redis-url}}
- name: JOBYARD_REDIS_PASSWORD
  valueFrom: {secretKeyRef: {name: {{ include "jobyard.secretName" . }}, key: redis-password, optional: true}}
- name: JOBYARD_REDIS_SENTINEL_PASSWORD
  valueFrom: {secretKeyRef: {name: {{ include "jobyard.secretName" . }}, key: redis-sentinel-password, optional: true}}
{{- with .Values.redis.sentinels }}
- name: JOBYARD_REDIS_SENTINELS
  value: {{ join "," . | quote }}
{{- end }}
- name: JOBYARD_REDIS_SENTINEL_MASTER
  value: {{ .Values.redis.sentinelMaster | quote }}
- name: JOBYARD_REDIS_DB
  value: {{ .Values.redis.db | quote }}
{{- if .Values.redis.tls.enabled }}
- name: JOBYARD_REDIS_TLS
  value: "true"
- name: JOBYARD_REDIS_TLS_CHECK_HOSTNAME
  value: {{ .Values.redis.tls.checkHostname | quote }}
{{- with .Values.redis.tls.secretName }}
- name: JOBYARD_REDIS_TLS_CA_FILE
  value: /var/run/secrets/jobyard/redis-tls/ca.crt
{{- end }}
{{- end }}
- name: JOBYARD_REDIS_KEY_PREFIX
  value: {{ .Values.redisKeyPrefix | quote }}
- name: JOBYARD_WEBHOOK_SECRET
  valueFrom: {secretKeyRef: {name: {{ include "jobyard.secretName" . }}, key: webhook-secret}}
- name: JOBYARD_AUTH_URL
  value: {{ include "jobyard.authUrl" . | quote }}
- name: JOBYARD_AUTH_JWKS_URL
  value: {{ printf "%s/.well-known/jwks.json" (include "jobyard.authUrl" .) | quote }}
- name: JOBYARD_JWT_ISSUER
  value: {{ .Values.auth.jwtIssuer | quote }}
- name: JOBYARD_JWT_AUDIENCE
  value: {{ .Values.auth.jwtAudience | quote }}
- name: JOBYARD_EGRESS_ALLOWED_HOSTS
  value: {{ join "," .Values.egress.allowedHosts | quote }}
- name: JOBYARD_EGRESS_MAX_RESPONSE_BYTES
  value: {{ .Values.egress.maxResponseBytes | int64 | quote }}
- name: JOBYARD_EGRESS_TIMEOUT_SECONDS
  value: {{ .Values.egress.timeoutSeconds | quote }}
- name: JOBYARD_AUDIT_RETENTION_DAYS
  value: {{ .Values.audit.retentionDays | quote }}
- name: JOBYARD_RETENTION_COMPLETED_SECONDS
  value: {{ .Values.retention.completedSeconds | int64 | quote }}
- name: JOBYARD_RETENTION_FAILED_SECONDS
  value: {{ .Values.retention.failedSeconds | int64 | quote }}
- name: JOBYARD_RETENTION_IMPORT_LOGS_SECONDS
  value: {{ .Values.retention.importLogsSeconds | int64 | quote }}
- name: JOBYARD_RETENTION_RAW_FEEDS_SECONDS
  value: {{ .Values.retention.rawFeedsSeconds | int64 | quote }}
- name: JOBYARD_RETENTION_SWEEP_BATCH
  value: {{ .Values.retention.sweepBatch | int64 | quote }}
- name: JOBYARD_HOST
  value: "0.0.0.0"
- name: JOBYARD_METRICS_HOST
  value: "0.0.0.0"
{{- with .Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* pod-level settings of every Jobyard pod: no Kubernetes API token (only the operator has one) */}}
{{- define "jobyard.podSpec" -}}
automountServiceAccountToken: false
{{ include "jobyard.podCommon" . }}
{{- end -}}

{{- define "jobyard.podCommon" -}}
{{- with .Values.imagePullSecrets }}
imagePullSecrets: {{ toYaml . | nindent 2 }}
{{- end }}
securityContext: {{ toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.nodeSelector }}
nodeSelector: {{ toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations: {{ toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity: {{ toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* the Redis TLS files, in every Jobyard container (volumeMounts) and pod (volumes) */}}
{{- define "jobyard.redisTlsMount" -}}
{{- if and .Values.redis.tls.enabled .Values.redis.tls.secretName }}
- {name: redis-tls, mountPath: /var/run/secrets/jobyard/redis-tls, readOnly: true}
{{- end }}
{{- end -}}

{{- define "jobyard.redisTlsVolume" -}}
{{- if and .Values.redis.tls.enabled .Values.redis.tls.secretName }}
- name: redis-tls
  secret: {secretName: {{ .Values.redis.tls.secretName }}, defaultMode: 0444}
{{- end }}
{{- end -}}

{{/* probes on one port: (dict "port" 8000 "live" "/healthz" "ready" "/readyz") */}}
{{- define "jobyard.probes" -}}
livenessProbe:
  httpGet: {path: {{ .live | default "/healthz" }}, port: {{ .port }}}
  periodSeconds: 10
  timeoutSeconds: 3
  failureThreshold: 6
readinessProbe:
  httpGet: {path: {{ .ready | default "/readyz" }}, port: {{ .port }}}
  periodSeconds: 5
  timeoutSeconds: 3
  failureThreshold: 3
{{- end -}}
