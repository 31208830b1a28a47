{{/* Names, labels and the component table shared by every template. */}}

{{- define "climcat.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "climcat.fullname" -}}
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

{{/*
The four services. `service` is the name runService() knows (dist/apps/<service>/src/main.js),
`port` the service's default port (libs/platform/src/config/config.ts DEFAULT_PORTS).
*/}}
{{- define "climcat.components" -}}
catalog: { service: catalog, port: 3000 }
ingestor: { service: ingestor, port: 3001 }
threddsProxy: { service: thredds-proxy, port: 3002 }
scratchQuota: { service: scratch-quota, port: 3003 }
{{- end -}}

{{/* Resource name of one component: <fullname>-<service>. Call with (list $ "catalog"). */}}
{{- define "climcat.componentName" -}}
{{- $root := index . 0 -}}
{{- $key := index . 1 -}}
{{- $c := index (include "climcat.components" $root | fromYaml) $key -}}
{{- printf "%s-%s" (include "climcat.fullname" $root) $c.service | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels on everything the release makes, minus the name/instance pair. */}}
{{- define "climcat.commonLabels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: climcat
{{- end -}}

{{- define "climcat.labels" -}}
{{ include "climcat.commonLabels" . }}
app.kubernetes.io/name: {{ include "climcat.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Selector labels of one component. Call with (list $ "catalog"). */}}
{{- define "climcat.selectorLabels" -}}
{{- $root := index . 0 -}}
{{- $key := index . 1 -}}
{{- $c := index (include "climcat.components" $root | fromYaml) $key -}}
app.kubernetes.io/name: {{ include "climcat.name" $root }}
app.kubernetes.io/instance: {{ $root.Release.Name }}
app.kubernetes.io/component: {{ $c.service }}
{{- end -}}

{{- define "climcat.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "climcat.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "climcat.secretName" -}}
{{- default (include "climcat.fullname" .) .Values.secrets.existingSecret -}}
{{- end -}}

{{- define "climcat.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "climcat.publicUrl" -}}
{{- if .Values.publicUrl -}}
{{- .Values.publicUrl | trimSuffix "/" -}}
{{- else -}}
{{- printf "%s://%s" (ternary "https" "http" .Values.ingress.tls.enabled) .Values.ingress.host -}}
{{- end -}}
{{- end -}}

{{/* Claim name of a storage volume ("archive", "derived", "scratch"). */}}
{{- define "climcat.claimName" -}}
{{- $root := index . 0 -}}
{{- $key := index . 1 -}}
{{- $v := index $root.Values.storage $key -}}
{{- default (printf "%s-%s" (include "climcat.fullname" $root) $key) $v.existingClaim -}}
{{- end -}}

{{/* Checks across values that the JSON schema cannot express; rendered from configmap.yaml. */}}
{{- define "climcat.validate" -}}
{{- range $key, $c := include "climcat.components" . | fromYaml }}
{{- $v := index $.Values.components $key }}
{{- if $v.enabled }}
{{- if and $v.autoscaling.enabled (gt (int $v.autoscaling.minReplicas) (int $v.autoscaling.maxReplicas)) }}
{{- fail (printf "components.%s.autoscaling.minReplicas (%d) exceeds maxReplicas (%d)" $key (int $v.autoscaling.minReplicas) (int $v.autoscaling.maxReplicas)) }}
{{- end }}
{{- $min := ternary $v.autoscaling.minReplicas $v.replicas $v.autoscaling.enabled | int }}
{{- if and $v.pdb.enabled (kindIs "float64" $v.pdb.minAvailable) (ge (int $v.pdb.minAvailable) $min) }}
{{- fail (printf "components.%s.pdb.minAvailable (%d) must be below replicas (%d): a node drain could never evict its pods" $key (int $v.pdb.minAvailable) $min) }}
{{- end }}
{{- end }}
{{- end }}
{{- end -}}
