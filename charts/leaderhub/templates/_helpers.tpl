{{/* Name of the chart, or nameOverride. */}}
{{- define "leaderhub.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
Name of the release's objects: "leaderhub" for `helm install leaderhub ...`.
The serving certificate covers <fullname>.<namespace>.svc.
*/}}
{{- define "leaderhub.fullname" -}}
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

{{- define "leaderhub.selectorLabels" -}}
app.kubernetes.io/name: {{ include "leaderhub.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "leaderhub.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "leaderhub.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: openyurt
{{- end -}}

{{- define "leaderhub.image" -}}
{{- $tag := default (printf "v%s" .Chart.AppVersion) .Values.image.tag -}}
{{- if .Values.image.registry -}}
{{- printf "%s/%s:%s" .Values.image.registry .Values.image.repository $tag -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository $tag -}}
{{- end -}}
{{- end -}}

{{/* DNS name kube-apiserver's aggregator verifies the serving certificate for. */}}
{{- define "leaderhub.serviceDNSName" -}}
{{- printf "%s.%s.svc" (include "leaderhub.fullname" .) .Release.Namespace -}}
{{- end -}}

{{/* Secret holding tls.crt and tls.key, per tls.type. */}}
{{- define "leaderhub.tlsSecretName" -}}
{{- if eq .Values.tls.type "existingSecret" -}}
{{- required "tls.existingSecret.name is required with tls.type=existingSecret" .Values.tls.existingSecret.name -}}
{{- else -}}
{{- printf "%s-tls" (include "leaderhub.fullname" .) -}}
{{- end -}}
{{- end -}}

{{- define "leaderhub.apiServiceName" -}}
v1alpha1.leaderhub.openyurt.io
{{- end -}}

{{/*
"true" when leaderhub-apiserver runs the controller named .name with
--controllers=.root.Values.controllers, read as the binary reads it: "-name"
anywhere turns it off; "name", or "*" for a controller on by default
(materialize; hubleader is off by default), turns it on.
*/}}
{{- define "leaderhub.controllerOn" -}}
{{- $flags := splitList "," (.root.Values.controllers | toString) -}}
{{- $byDefault := and (has "*" $flags) (ne .name "hubleader") -}}
{{- if and (not (has (printf "-%s" .name) $flags)) (or (has .name $flags) $byDefault) -}}true{{- end -}}
{{- end -}}

{{/*
"true" when the materialize controller runs and writes the form .form
(endpoints, configmap, endpointslice): only then does leaderhub's
ServiceAccount get to write that resource.
*/}}
{{- define "leaderhub.formOn" -}}
{{- if and (include "leaderhub.controllerOn" (dict "root" .root "name" "materialize")) (has .form .root.Values.materialize) -}}true{{- end -}}
{{- end -}}

{{/* The username leaderhub-apiserver authenticates to kube-apiserver with. */}}
{{- define "leaderhub.serviceAccountUser" -}}
{{- printf "system:serviceaccount:%s:%s" .Release.Namespace (include "leaderhub.fullname" .) -}}
{{- end -}}
