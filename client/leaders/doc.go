// Package leaders is the library an edge agent (YurtHub, say) embeds to
// follow its NodePool's leader YurtHubs and pool settings: it reads the
// leaderhub view, and falls back to the EndpointSlice, Endpoints and
// upstream ConfigMap forms while the aggregated API is unavailable, moving
// back up when it answers again. Every new Config is delivered once (a
// switch of source with equal content is not a change), leader URLs are
// dial-ready (IPv6 bracketed), and with a cache file the last Config
// survives restarts and is served, marked stale, until a source answers:
// the edge keeps working on what it last knew.
package leaders
