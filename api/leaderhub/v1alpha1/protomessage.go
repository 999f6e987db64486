package v1alpha1

// ProtoMessage marks each type as a protobuf message for the protobuf
// serializer of k8s.io/apimachinery before v0.35, which decodes only what
// implements gogo's proto.Message (Reset, String, ProtoMessage); from v0.35
// the generator no longer writes this method, and the serializer no longer
// asks for it. Agents that embed the edge client on Kubernetes v0.34
// (YurtHub v1.7.0) decode LeaderHubs in protobuf through it;
// TestProtobufRoundTrip runs that serializer.
func (*LeaderHub) ProtoMessage()        {}
func (*LeaderHubList) ProtoMessage()    {}
func (*LeaderHubSubset) ProtoMessage()  {}
func (*LeaderHubAddress) ProtoMessage() {}
func (*LeaderHubPort) ProtoMessage()    {}
