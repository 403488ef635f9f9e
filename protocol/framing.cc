#include "protocol/framing.h"

#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"

namespace rappel::protocol {

absl::StatusOr<uint32_t> DecodeFrameLength(const uint8_t* prefix, const FrameLimits& limits) {
  uint32_t length = static_cast<uint32_t>(prefix[0]) | static_cast<uint32_t>(prefix[1]) << 8 |
                    static_cast<uint32_t>(prefix[2]) << 16 | static_cast<uint32_t>(prefix[3]) << 24;
  if (length > limits.max_frame_bytes) {
    return absl::ResourceExhaustedError(absl::StrCat("frame of ", length,
                                                     " bytes exceeds the limit of ",
                                                     limits.max_frame_bytes, " bytes"));
  }
  if (length < kMinFrameBytes) {
    return absl::InvalidArgumentError(absl::StrCat("frame of ", length, " bytes is too short"));
  }
  return length;
}

absl::StatusOr<const wire::Frame*> VerifyFrame(const uint8_t* data, size_t size,
                                               const FrameLimits& limits) {
  if (size < kLengthPrefixBytes + kMinFrameBytes ||
      size > kLengthPrefixBytes + size_t{limits.max_frame_bytes}) {
    return absl::InvalidArgumentError(absl::StrCat("frame of ", size, " bytes is out of bounds"));
  }
  auto declared = DecodeFrameLength(data, limits);
  if (!declared.ok() || *declared + kLengthPrefixBytes != size) {
    return absl::InvalidArgumentError("frame length prefix does not match its size");
  }
  if (!flatbuffers::BufferHasIdentifier(data, wire::FrameIdentifier(), /*size_prefixed=*/true)) {
    return absl::InvalidArgumentError("frame does not carry the rappel identifier RPL1");
  }
  flatbuffers::Verifier verifier(data, size, limits.max_depth, limits.max_tables);
  if (!wire::VerifySizePrefixedFrameBuffer(verifier)) {
    return absl::InvalidArgumentError("frame failed FlatBuffers verification");
  }
  const wire::Frame* frame = wire::GetSizePrefixedFrame(data);
  if (frame->body_type() == wire::Body::NONE || frame->body() == nullptr) {
    return absl::InvalidArgumentError("frame has no body");
  }
  return frame;
}

void FinishFrame(flatbuffers::FlatBufferBuilder& builder, uint64_t request_id,
                 wire::Body body_type, flatbuffers::Offset<void> body) {
  auto frame = wire::CreateFrame(builder, request_id, body_type, body);
  wire::FinishSizePrefixedFrameBuffer(builder, frame);
}

wire::ErrorCode ToWireCode(absl::StatusCode code) {
  int value = static_cast<int>(code);
  if (value < 0 || value > static_cast<int>(wire::ErrorCode::Unauthenticated)) {
    return wire::ErrorCode::Unknown;
  }
  return static_cast<wire::ErrorCode>(value);
}

flatbuffers::Offset<wire::Status> ToWireStatus(flatbuffers::FlatBufferBuilder& builder,
                                               const absl::Status& status) {
  if (status.ok()) return wire::CreateStatus(builder);
  auto message = builder.CreateString(status.message().data(), status.message().size());
  return wire::CreateStatus(builder, ToWireCode(status.code()), message);
}

absl::Status FromWireStatus(const wire::Status* status) {
  if (status == nullptr || status->code() == wire::ErrorCode::Ok) return absl::OkStatus();
  std::string message = status->message() != nullptr ? status->message()->str() : std::string();
  auto code = static_cast<int>(status->code());
  if (code <= static_cast<int>(wire::ErrorCode::Unauthenticated)) {
    return absl::Status(static_cast<absl::StatusCode>(code), message);
  }
  const char* name = wire::EnumNameErrorCode(status->code());
  std::string text = absl::StrCat(name[0] != '\0' ? name : "ErrorCode", ": ", message);
  switch (status->code()) {
    case wire::ErrorCode::FrameTooLarge:
      return absl::ResourceExhaustedError(text);
    case wire::ErrorCode::UnsupportedVersion:
      return absl::FailedPreconditionError(text);
    case wire::ErrorCode::UnknownRequest:
      return absl::UnimplementedError(text);
    default:
      return absl::InvalidArgumentError(text);
  }
}

}  // namespace rappel::protocol
