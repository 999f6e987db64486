// Pins upstream YurtHub for `make yurthub` (hack/build-yurthub.sh), which
// builds it from this module's source with integrations/yurthub's patch
// applied and this checkout's api and client modules replacing leaderhub's.
// Only the version and its checksum are used from here: the build runs in a
// copy of the module, as its own main module, with its own go.mod.
module github.com/leaderhub/leaderhub/hack/tools/yurthub

go 1.25.0

require github.com/openyurtio/openyurt v1.7.0
