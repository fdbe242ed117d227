// Package proto is the generated code of the plugin protocol (domain.proto).
//
// Regenerate with protoc from Debian's protobuf-compiler and the Go plugins
// at the versions matching go.mod:
//
//	go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.6
//	go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.3.0
//	go generate ./plugins/proto
package proto

//go:generate protoc --go_out=. --go_opt=paths=source_relative --go-grpc_out=. --go-grpc_opt=paths=source_relative domain.proto
