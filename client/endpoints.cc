// ParseEndpoints (rappel/types.h): a list of nodes as an operator writes it.
// Plain std: Debian's Abseil has a string_view of its own, not std's.
#include <charconv>

#include "absl/strings/str_cat.h"
#include "rappel/types.h"

namespace rappel::client {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

absl::StatusOr<Endpoint> ParseOne(std::string_view entry, uint16_t default_port) {
  auto bad = [&](const char* why) {
    return absl::InvalidArgumentError(absl::StrCat("endpoint '", std::string(entry), "': ", why));
  };
  Endpoint e;
  e.port = default_port;
  std::string_view rest;
  if (entry.front() == '[') {  // [v6]:port
    size_t close = entry.find(']');
    if (close == std::string_view::npos) return bad("no closing ']'");
    e.host = std::string(entry.substr(1, close - 1));
    rest = entry.substr(close + 1);
    if (!rest.empty() && rest.front() != ':') return bad("expected ':' after ']'");
  } else {
    size_t colon = entry.rfind(':');
    if (colon != std::string_view::npos && entry.find(':') != colon) {
      return bad("an IPv6 address goes in brackets: [::1]:7411");
    }
    e.host = std::string(entry.substr(0, colon));
    if (colon != std::string_view::npos) rest = entry.substr(colon);
  }
  if (e.host.empty()) return bad("no host");
  if (!rest.empty()) {
    std::string_view digits = rest.substr(1);
    uint32_t port = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
    if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() || port == 0 ||
        port > 65535) {
      return bad("the port is not a number from 1 to 65535");
    }
    e.port = static_cast<uint16_t>(port);
  }
  return e;
}

}  // namespace

absl::StatusOr<std::vector<Endpoint>> ParseEndpoints(std::string_view list, uint16_t default_port) {
  std::vector<Endpoint> out;
  if (Trim(list).empty()) return absl::InvalidArgumentError("no endpoint given");
  size_t start = 0;
  while (start <= list.size()) {
    size_t comma = list.find(',', start);
    if (comma == std::string_view::npos) comma = list.size();
    std::string_view entry = Trim(list.substr(start, comma - start));
    if (entry.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("empty endpoint in '", std::string(list), "'"));
    }
    auto e = ParseOne(entry, default_port);
    if (!e.ok()) return e.status();
    out.push_back(std::move(*e));
    start = comma + 1;
  }
  return out;
}

}  // namespace rappel::client
