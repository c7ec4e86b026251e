// Package pluginpb is the generated Go code of the backend plugin protocol,
// backend.proto. Do not edit backend.pb.go or backend_grpc.pb.go; edit the
// proto and regenerate with
//
//	go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
//	go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.2
//	go generate ./backend/plugin/pluginpb
//
// which needs protoc (Debian: protobuf-compiler) and the two generators on
// PATH (they install into $(go env GOPATH)/bin).
package pluginpb

//go:generate protoc --proto_path=. --go_out=. --go_opt=paths=source_relative --go-grpc_out=. --go-grpc_opt=paths=source_relative backend.proto
