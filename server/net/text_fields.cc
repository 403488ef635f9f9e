#include "server/net/text_fields.h"

#include <string_view>

#include "absl/container/inlined_vector.h"
#include "absl/strings/str_cat.h"
#include "protocol/schema.h"
#include "server/common/check.h"
#include "server/common/utf8.h"

namespace rappel::server {

namespace wire = protocol::wire;
using reflection::BaseType;

// One walk over a frame's text fields. The path is a stack of (field,
// element index) kept as pointers, and rendered as text only when asked:
// the check of a valid request allocates nothing.
class TextFields::Walker {
 public:
  struct Step {
    const Field* field;
    int64_t index;  // -1: not a vector element
  };
  using Path = absl::InlinedVector<Step, 8>;

  explicit Walker(const std::vector<Node>& nodes) : nodes_(nodes) {}

  static std::string Render(const Path& path) {
    std::string out;
    for (const Step& s : path) {
      if (!out.empty()) out += '.';
      out += s.field->name;
      if (s.index >= 0) absl::StrAppend(&out, "[", s.index, "]");
    }
    return out;
  }

  // Calls on_text(text, path) for each string under `t`, stopping when it
  // returns false; returns false if stopped.
  template <typename OnText>
  bool Walk(const flatbuffers::Table& t, int node, OnText& on_text) {
    using flatbuffers::Offset;
    using flatbuffers::String;
    using flatbuffers::Table;
    using flatbuffers::Vector;
    for (const Field& f : nodes_[node].fields) {
      switch (f.kind) {
        case Kind::kString:
          if (const auto* s = t.GetPointer<const String*>(f.offset)) {
            if (!Visit(f, -1, [&] { return on_text(*s, path_); })) return false;
          }
          break;
        case Kind::kStrings:
          if (const auto* v = t.GetPointer<const Vector<Offset<String>>*>(f.offset)) {
            for (flatbuffers::uoffset_t i = 0; i < v->size(); ++i) {
              if (!Visit(f, i, [&] { return on_text(*v->Get(i), path_); })) return false;
            }
          }
          break;
        case Kind::kTable:
          if (const auto* c = t.GetPointer<const Table*>(f.offset)) {
            if (!Visit(f, -1, [&] { return Walk(*c, f.child, on_text); })) return false;
          }
          break;
        case Kind::kTables:
          if (const auto* v = t.GetPointer<const Vector<Offset<Table>>*>(f.offset)) {
            for (flatbuffers::uoffset_t i = 0; i < v->size(); ++i) {
              if (!Visit(f, i, [&] { return Walk(*v->Get(i), f.child, on_text); })) return false;
            }
          }
          break;
        case Kind::kUnion: {
          uint8_t type = t.GetField<uint8_t>(f.type_offset, 0);
          if (type >= f.members.size() || f.members[type] < 0) break;
          if (const auto* c = t.GetPointer<const Table*>(f.offset)) {
            if (!Visit(f, -1, [&] { return Walk(*c, f.members[type], on_text); })) return false;
          }
          break;
        }
      }
    }
    return true;
  }

 private:
  template <typename Fn>
  bool Visit(const Field& f, int64_t index, Fn fn) {
    path_.push_back({&f, index});
    bool go_on = fn();
    path_.pop_back();
    return go_on;
  }

  const std::vector<Node>& nodes_;
  Path path_;
};

const TextFields& TextFields::Wire() {
  static const TextFields* wire_fields = new TextFields(protocol::BinarySchema());
  return *wire_fields;
}

TextFields::TextFields(const reflection::Schema& schema) {
  const auto& objects = *schema.objects();
  const auto& enums = *schema.enums();
  size_t n = objects.size();
  // Which tables can hold text, directly or below: a fixpoint, since a
  // table may hold one defined later (or itself).
  std::vector<bool> has_text(n, false);
  auto union_has_text = [&](const reflection::Enum& e) {
    for (const reflection::EnumVal* v : *e.values()) {
      const reflection::Type* u = v->union_type();
      if (u != nullptr && u->base_type() == BaseType::Obj && has_text[u->index()]) return true;
    }
    return false;
  };
  auto leads_to_text = [&](const reflection::Field& f) {
    const reflection::Type& type = *f.type();
    switch (type.base_type()) {
      case BaseType::String:
        return true;
      case BaseType::Obj:
        return static_cast<bool>(has_text[type.index()]);
      case BaseType::Union:
        return union_has_text(*enums.Get(type.index()));
      case BaseType::Vector:
        // A vector of unions is not walked: refuse the schema rather than
        // leave its text unchecked.
        RAPPEL_CHECK(type.element() != BaseType::Union);
        if (type.element() == BaseType::String) return true;
        if (type.element() == BaseType::Obj) return static_cast<bool>(has_text[type.index()]);
        return false;  // scalars, and [ubyte]: bytes, not text
      default:
        return false;
    }
  };
  for (bool changed = true; changed;) {
    changed = false;
    for (size_t i = 0; i < n; ++i) {
      if (has_text[i] || objects.Get(i)->is_struct()) continue;
      for (const reflection::Field* f : *objects.Get(i)->fields()) {
        if (leads_to_text(*f)) {
          has_text[i] = true;
          changed = true;
          break;
        }
      }
    }
  }
  auto members_of = [&](const reflection::Enum& e) {
    std::vector<int> members;
    for (const reflection::EnumVal* v : *e.values()) {
      const reflection::Type* u = v->union_type();
      if (u == nullptr || u->base_type() != BaseType::Obj) continue;
      RAPPEL_CHECK(v->value() >= 0 && v->value() < 256);
      if (members.size() <= static_cast<size_t>(v->value())) members.resize(v->value() + 1, -1);
      members[v->value()] = has_text[u->index()] ? u->index() : -1;
    }
    return members;
  };
  nodes_.resize(n);
  for (size_t i = 0; i < n; ++i) {
    if (!has_text[i]) continue;
    const reflection::Object& obj = *objects.Get(i);
    for (const reflection::Field* f : *obj.fields()) {
      if (f->deprecated() || !leads_to_text(*f)) continue;
      Field out;
      out.name = f->name()->str();
      out.offset = f->offset();
      const reflection::Type& type = *f->type();
      switch (type.base_type()) {
        case BaseType::String:
          out.kind = Kind::kString;
          break;
        case BaseType::Obj:
          out.kind = Kind::kTable;
          out.child = type.index();
          break;
        case BaseType::Vector:
          out.kind = type.element() == BaseType::String ? Kind::kStrings : Kind::kTables;
          out.child = type.element() == BaseType::String ? -1 : type.index();
          break;
        case BaseType::Union: {
          out.kind = Kind::kUnion;
          const reflection::Field* type_field = obj.fields()->LookupByKey(
              (out.name + flatbuffers::UnionTypeFieldSuffix()).c_str());
          RAPPEL_CHECK(type_field != nullptr);
          out.type_offset = type_field->offset();
          out.members = members_of(*enums.Get(type.index()));
          break;
        }
        default:
          RAPPEL_CHECK(false);
      }
      nodes_[i].fields.push_back(std::move(out));
    }
  }
  // The requests are the members of the root table's `body` union.
  const reflection::Object* root = schema.root_table();
  RAPPEL_CHECK(root != nullptr);
  const reflection::Field* body = root->fields()->LookupByKey("body");
  RAPPEL_CHECK(body != nullptr && body->type()->base_type() == BaseType::Union);
  body_members_ = members_of(*enums.Get(body->type()->index()));
}

std::optional<TextFields::Invalid> TextFields::FirstInvalid(const wire::Frame& frame) const {
  auto type = static_cast<size_t>(frame.body_type());
  if (type >= body_members_.size() || body_members_[type] < 0 || frame.body() == nullptr) {
    return std::nullopt;
  }
  std::optional<Invalid> found;
  auto check = [&found](const flatbuffers::String& s, const Walker::Path& path) {
    std::string_view text = s.string_view();
    size_t bad = FirstInvalidUtf8(text);
    if (bad == text.size()) return true;
    found = Invalid{Walker::Render(path), bad};
    return false;
  };
  Walker walker(nodes_);
  walker.Walk(*static_cast<const flatbuffers::Table*>(frame.body()), body_members_[type], check);
  return found;
}

void TextFields::ForEach(const wire::Frame& frame, const Visit& visit) const {
  auto type = static_cast<size_t>(frame.body_type());
  if (type >= body_members_.size() || body_members_[type] < 0 || frame.body() == nullptr) return;
  auto each = [&visit](const flatbuffers::String& s, const Walker::Path& path) {
    visit(Walker::Render(path), s);
    return true;
  };
  Walker walker(nodes_);
  walker.Walk(*static_cast<const flatbuffers::Table*>(frame.body()), body_members_[type], each);
}

std::vector<std::string> TextFields::SchemaPaths(wire::Body type) const {
  std::vector<std::string> out;
  auto t = static_cast<size_t>(type);
  if (t >= body_members_.size() || body_members_[t] < 0) return out;
  std::vector<int> seen;
  PathsOf(body_members_[t], "", seen, out);
  return out;
}

void TextFields::PathsOf(int node, const std::string& prefix, std::vector<int>& seen,
                         std::vector<std::string>& out) const {
  for (int s : seen) {
    if (s == node) return;  // a recursive type: followed once
  }
  seen.push_back(node);
  for (const Field& f : nodes_[node].fields) {
    std::string path = prefix.empty() ? f.name : absl::StrCat(prefix, ".", f.name);
    switch (f.kind) {
      case Kind::kString:
        out.push_back(path);
        break;
      case Kind::kStrings:
        out.push_back(path + "[]");
        break;
      case Kind::kTable:
        PathsOf(f.child, path, seen, out);
        break;
      case Kind::kTables:
        PathsOf(f.child, path + "[]", seen, out);
        break;
      case Kind::kUnion:
        for (int m : f.members) {
          if (m >= 0) PathsOf(m, path, seen, out);
        }
        break;
    }
  }
  seen.pop_back();
}

}  // namespace rappel::server
