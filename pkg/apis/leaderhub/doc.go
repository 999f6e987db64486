// Package leaderhub is the internal, version-independent form of the
// leaderhub.openyurt.io API: LeaderHub, a read-only projection of one OpenYurt
// NodePool onto its leader YurtHubs and pool settings, shaped like core/v1
// Endpoints. The aggregated server stores and serves these internal objects;
// package v1alpha1 is what goes on the wire.
//
// +k8s:deepcopy-gen=package
// +groupName=leaderhub.openyurt.io
package leaderhub
