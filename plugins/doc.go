// Package plugins will serve domains out of process over hashicorp/go-plugin
// (gRPC). The contract it will carry is core.Domain; see docs/plugins.md.
package plugins
