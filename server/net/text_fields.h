// TextFields: every text (string) field a frame's body can hold, found once
// from the wire schema itself (protocol/schema.h, FlatBuffers reflection),
// so that the request handler checks each one as UTF-8 without naming any:
// a field added to rappel.fbs is checked with no code change.
//
// At construction the schema becomes a small plan: for each table type, the
// fields that can lead to text (strings, vectors of strings, tables,
// vectors of tables, unions), with everything that cannot pruned away.
// Checking a frame then walks only those fields. [ubyte] fields are bytes,
// not text, and are not checked.
//
// Paths name a field from the body down: "reminders[3].recipient",
// "hypothetical.notes", "key.key".
//
// Thread: immutable after construction; any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "flatbuffers/reflection.h"
#include "protocol/rappel_generated.h"

namespace rappel::server {

class TextFields {
 public:
  // The plan for protocol/rappel.fbs (built once, on first use).
  static const TextFields& Wire();
  // The plan for `schema`; its root table must be the frame, whose `body`
  // union holds the requests. RAPPEL_CHECK fails on a schema shape the walk
  // does not handle (a vector of unions), so that such a change is caught by
  // the tests, not skipped at run time.
  explicit TextFields(const reflection::Schema& schema);

  struct Invalid {
    std::string path;  // "reminders[3].recipient"
    size_t byte;       // offset of the first bad byte in that field
  };
  // The first text field of the frame's body that is not valid UTF-8, or
  // nullopt. `frame` must be verified.
  std::optional<Invalid> FirstInvalid(const protocol::wire::Frame& frame) const;

  // Every text field present in the frame's body (fields in name order), with its
  // path (tests and the fuzzer use it to reach each field of a frame).
  using Visit = std::function<void(const std::string& path, const flatbuffers::String& text)>;
  void ForEach(const protocol::wire::Frame& frame, const Visit& visit) const;

  // Every text path the schema allows in a body of this type, with "[]"
  // for vector elements ("reminders[].recipient"). Empty for a type with
  // no text. Recursive types are followed one level.
  std::vector<std::string> SchemaPaths(protocol::wire::Body type) const;

 private:
  enum class Kind : uint8_t { kString, kStrings, kTable, kTables, kUnion };
  struct Field {
    std::string name;
    uint16_t offset;       // vtable offset of the field
    Kind kind;
    int child = -1;        // kTable, kTables: the object index
    uint16_t type_offset;  // kUnion: vtable offset of its `_type` field
    std::vector<int> members;  // kUnion: object index by type value, -1 when no text
  };
  struct Node {
    std::vector<Field> fields;  // only those that can lead to text
  };
  class Walker;

  void PathsOf(int node, const std::string& prefix, std::vector<int>& seen,
               std::vector<std::string>& out) const;

  std::vector<Node> nodes_;        // by reflection object index
  std::vector<int> body_members_;  // Frame.body: object index by Body value, -1: no text
};

}  // namespace rappel::server
