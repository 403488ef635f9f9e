#include "tools/rappelctl/appointment_ops.h"

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "tools/rappelctl/common.h"

namespace rappel::ctl {
namespace {

using Json = nlohmann::json;

// The message kinds rappeld plans (protocol/README.md), for send-now.
const std::vector<std::string> kKinds = {
    "confirmation", "change",     "cancellation", "patient_cancel_ack", "confirm_ack", "reminder",
    "pre_visit",    "second_reminder", "post_visit", "recall", "practitioner", "delay_alert"};

const std::map<std::string, client::AppointmentAction> kCancelKinds = {
    {"practitioner", client::AppointmentAction::kCancelByPractitioner},
    {"patient", client::AppointmentAction::kCancelByPatient},
    {"reschedule", client::AppointmentAction::kToReschedule}};

const std::map<std::string, client::VisitStatus> kStatuses = {
    {"seen", client::VisitStatus::kSeen},
    {"waiting_room", client::VisitStatus::kWaitingRoom},
    {"absent", client::VisitStatus::kAbsent},
    {"excused", client::VisitStatus::kExcused}};

std::string FormatMs(int64_t ms) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::FromUnixMillis(ms), absl::UTCTimeZone());
}

// "sms,email" as AppointmentInput::channels bits.
absl::StatusOr<uint8_t> ParseChannels(const std::string& text) {
  uint8_t bits = 0;
  for (absl::string_view name : absl::StrSplit(text, ',', absl::SkipEmpty())) {
    if (name == "sms") bits |= client::ChannelBit(client::Channel::kSms);
    else if (name == "email") bits |= client::ChannelBit(client::Channel::kEmail);
    else if (name == "voice") bits |= client::ChannelBit(client::Channel::kVoice);
    else if (name == "push") bits |= client::ChannelBit(client::Channel::kPush);
    else {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown channel \"", name, "\" (sms, email, voice, push)"));
    }
  }
  return bits;
}

// One appointment of a --from-json document: the fields of rappel.fbs's
// Appointment table; an unknown field or a value of the wrong type is an
// error naming it.
absl::StatusOr<client::AppointmentInput> AppointmentFromJson(const Json& j, const std::string& at) {
  if (!j.is_object()) return absl::InvalidArgumentError(at + ": not a JSON object");
  client::AppointmentInput a;
  for (const auto& [name, v] : j.items()) {
    std::string where = at + "." + name;
    auto text = [&](std::string* out) -> absl::Status {
      if (!v.is_string()) return absl::InvalidArgumentError(where + ": not a string");
      *out = v.get<std::string>();
      return absl::OkStatus();
    };
    auto integer = [&](auto* out, int64_t lo, int64_t hi) -> absl::Status {
      if (!v.is_number_integer() || v.get<int64_t>() < lo || v.get<int64_t>() > hi) {
        return absl::InvalidArgumentError(
            absl::StrCat(where, ": not an integer in [", lo, ", ", hi, "]"));
      }
      *out = static_cast<std::remove_pointer_t<decltype(out)>>(v.get<int64_t>());
      return absl::OkStatus();
    };
    absl::Status st;
    if (name == "tenant") st = integer(&a.tenant, 0, UINT32_MAX);
    else if (name == "id") st = text(&a.id);
    else if (name == "calendar") st = text(&a.calendar);
    else if (name == "type") st = text(&a.type);
    else if (name == "patient") st = text(&a.patient);
    else if (name == "start_ms") st = integer(&a.start_ms, INT64_MIN, INT64_MAX);
    else if (name == "end_ms") st = integer(&a.end_ms, INT64_MIN, INT64_MAX);
    else if (name == "location") st = text(&a.location);
    else if (name == "notes") st = text(&a.notes);
    else if (name == "booked_at_ms") st = integer(&a.booked_at_ms, INT64_MIN, INT64_MAX);
    else if (name == "channels") st = integer(&a.channels, 0, 255);
    else if (name == "version") st = integer(&a.version, 0, INT64_MAX);
    else if (name == "booked_online") {
      if (!v.is_boolean()) st = absl::InvalidArgumentError(where + ": not true or false");
      else a.booked_online = v.get<bool>();
    } else {
      st = absl::InvalidArgumentError(where + ": unknown field");
    }
    if (!st.ok()) return st;
  }
  for (const char* required : {"tenant", "id", "calendar", "type", "patient", "start_ms"}) {
    if (!j.contains(required)) {
      return absl::InvalidArgumentError(at + ": " + required + " is missing");
    }
  }
  if (!j.contains("end_ms")) a.end_ms = a.start_ms;
  return a;
}

class AppointmentOps final : public CommandGroup {
 public:
  explicit AppointmentOps(CLI::App& app) {
    CLI::App* parent = app.get_subcommand("appointment");
    auto target = [&](CLI::App* cmd) {
      cmd->add_option("--tenant", tenant_, "tenant id")->required();
      cmd->add_option("--id", id_, "appointment id")->required();
      cmd->add_option("--version", version_,
                      "the platform's version (refused if older than held; 0: no check)");
    };

    book_ = parent->add_subcommand(
        "book", "create or change an appointment (an upsert): from flags or --from-json");
    auto* json_in = book_->add_option(
        "--from-json", json_file_,
        "FILE or - (stdin): an Appointment, or an AppointmentUpsert {\"items\": [...]}, with the "
        "field names of protocol/rappel.fbs (start_ms, end_ms, channels as a bit mask, ...)");
    book_->add_option("--tenant", input_.tenant, "tenant id")->excludes(json_in);
    book_->add_option("--id", input_.id, "appointment id")->excludes(json_in);
    book_->add_option("--calendar", input_.calendar, "calendar id")->excludes(json_in);
    book_->add_option("--type", input_.type, "appointment type id")->excludes(json_in);
    book_->add_option("--patient", input_.patient, "patient id")->excludes(json_in);
    book_->add_option("--start", start_text_, "unix ms or ISO 8601 with offset")
        ->excludes(json_in);
    auto* duration =
        book_->add_option("--duration", duration_text_, "30m, 1h15m (default: 0)")->excludes(json_in);
    book_->add_option("--end", end_text_, "unix ms or ISO 8601 with offset")
        ->excludes(json_in)
        ->excludes(duration);
    book_->add_option("--location", input_.location, "where the appointment is")->excludes(json_in);
    book_->add_option("--notes", input_.notes, "free text for the message templates")
        ->excludes(json_in);
    book_->add_flag("--online", input_.booked_online, "booked online")->excludes(json_in);
    book_->add_option("--channels", channels_text_,
                      "the appointment's own switches: sms,email,voice,push (default: all)")
        ->excludes(json_in);
    book_->add_option("--version", input_.version, "the platform's version (default 1)")
        ->excludes(json_in);

    move_ = parent->add_subcommand(
        "move", "move an appointment as held to a new time (a change notice is sent)");
    target(move_);
    move_->add_option("--start", start_text_, "unix ms or ISO 8601 with offset")->required();
    auto* move_duration =
        move_->add_option("--duration", duration_text_, "(default: as held)");
    move_->add_option("--end", end_text_, "unix ms or ISO 8601 with offset")->excludes(move_duration);

    cancel_ = parent->add_subcommand("cancel", "cancel an appointment, the patient notified");
    target(cancel_);
    cancel_->add_option("--by", cancel_by_,
                        "practitioner, patient, or reschedule (cancelled, the patient asked to "
                        "rebook); a calendar's absence: rappelctl absence")
        ->required()
        ->check(CLI::IsMember(kCancelKinds));

    status_ = parent->add_subcommand("status", "set or clear an appointment's visit status");
    target(status_);
    auto* set = status_->add_option("--set", status_text_, "seen, waiting_room, absent, excused")
                    ->check(CLI::IsMember(kStatuses));
    status_->add_flag("--clear", clear_, "back to none")->excludes(set);

    send_now_ = parent->add_subcommand(
        "send-now",
        "send one message kind now, with the appointment as it is (the gates, channel switches "
        "and sending hours apply; refused, with the reason, when nothing can go or past 20 a day "
        "for the appointment)");
    target(send_now_);
    send_now_->add_option("--kind", kind_, "the message kind")
        ->required()
        ->check(CLI::IsMember(kKinds));
  }

  bool Chosen() const override {
    return book_->parsed() || move_->parsed() || cancel_->parsed() || status_->parsed() ||
           send_now_->parsed();
  }

  int Prepare() override {
    if (book_->parsed()) return json_file_.empty() ? PrepareBookFlags() : PrepareBookJson();
    if (status_->parsed() && !clear_ && status_text_.empty()) {
      return Usage("status: give --set STATUS or --clear");
    }
    if (move_->parsed()) {
      auto start = ParseTimeMs(start_text_);
      if (!start.ok()) return Usage(std::string(start.status().message()));
      move_start_ = *start;
      if (!end_text_.empty()) {
        auto end = ParseTimeMs(end_text_);
        if (!end.ok()) return Usage(std::string(end.status().message()));
        if (*end < *start) return Usage("--end is before --start");
        move_end_ = *end;
      } else if (!duration_text_.empty()) {
        auto d = Duration();
        if (!d.ok()) return Usage(std::string(d.status().message()));
        move_end_ = *start + *d;
      }
    }
    return 0;
  }

  int Run(client::BlockingClient& c, bool json) override {
    if (book_->parsed()) {
      int rc = 0;
      for (const client::AppointmentInput& a : items_) {
        int one = Apply(c, json, "book", a.tenant, a.id, [&] { return Upsert(c, a); });
        if (rc == 0) rc = one;
      }
      return rc;
    }
    if (move_->parsed()) return Move(c, json);
    client::AppointmentCommand cmd;
    cmd.tenant = tenant_;
    cmd.id = id_;
    cmd.version = version_;
    std::string what;
    if (cancel_->parsed()) {
      cmd.action = kCancelKinds.at(cancel_by_);
      what = "cancel by " + cancel_by_;
    } else if (status_->parsed()) {
      cmd.action = client::AppointmentAction::kSetStatus;
      cmd.status = clear_ ? client::VisitStatus::kNone : kStatuses.at(status_text_);
      what = clear_ ? "status cleared" : "status " + status_text_;
    } else {
      cmd.action = client::AppointmentAction::kSendNow;
      cmd.kind = kind_;
      what = "send-now " + kind_;
    }
    return Apply(c, json, what, tenant_, id_, [&]() -> absl::StatusOr<client::AppointmentResult> {
      auto r = c.AppointmentCommands({cmd});
      if (!r.ok()) return r.status();
      if (r->size() != 1) return absl::InternalError("not one result for one command");
      return (*r)[0];
    });
  }

 private:
  absl::StatusOr<int64_t> Duration() const {
    absl::Duration d;
    if (!absl::ParseDuration(duration_text_, &d) || d < absl::ZeroDuration() ||
        d > absl::Hours(24 * 366)) {
      return absl::InvalidArgumentError("bad --duration \"" + duration_text_ +
                                        "\": give 30m, 1h15m, ... (0 to 366 days)");
    }
    return absl::ToInt64Milliseconds(d);
  }

  int PrepareBookFlags() {
    for (const char* name : {"--tenant", "--id", "--calendar", "--type", "--patient", "--start"}) {
      if (book_->get_option(name)->count() == 0) {
        return Usage(std::string("book: ") + name + " is required (or give --from-json)");
      }
    }
    auto start = ParseTimeMs(start_text_);
    if (!start.ok()) return Usage(std::string(start.status().message()));
    input_.start_ms = *start;
    input_.end_ms = *start;
    if (!end_text_.empty()) {
      auto end = ParseTimeMs(end_text_);
      if (!end.ok()) return Usage(std::string(end.status().message()));
      if (*end < *start) return Usage("--end is before --start");
      input_.end_ms = *end;
    } else if (!duration_text_.empty()) {
      auto d = Duration();
      if (!d.ok()) return Usage(std::string(d.status().message()));
      input_.end_ms = *start + *d;
    }
    if (!channels_text_.empty()) {
      auto bits = ParseChannels(channels_text_);
      if (!bits.ok()) return Usage(std::string(bits.status().message()));
      input_.channels = *bits;
    }
    if (book_->get_option("--version")->count() == 0) input_.version = 1;
    items_ = {input_};
    return 0;
  }

  int PrepareBookJson() {
    std::string text;
    if (json_file_ == "-") {
      text.assign(std::istreambuf_iterator<char>(std::cin), {});
    } else {
      std::ifstream in(json_file_, std::ios::binary);
      if (!in) return Usage("cannot read " + json_file_);
      text.assign(std::istreambuf_iterator<char>(in), {});
    }
    Json doc = Json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded()) return Usage(json_file_ + ": not valid JSON");
    if (doc.is_object() && doc.contains("items")) {
      if (doc.size() != 1 || !doc["items"].is_array() || doc["items"].empty()) {
        return Usage(json_file_ + ": an AppointmentUpsert is {\"items\": [appointment, ...]}");
      }
      for (size_t i = 0; i < doc["items"].size(); ++i) {
        auto a = AppointmentFromJson(doc["items"][i], absl::StrCat("items[", i, "]"));
        if (!a.ok()) return Usage(json_file_ + ": " + std::string(a.status().message()));
        items_.push_back(*a);
      }
    } else {
      auto a = AppointmentFromJson(doc, "appointment");
      if (!a.ok()) return Usage(json_file_ + ": " + std::string(a.status().message()));
      items_.push_back(*a);
    }
    return 0;
  }

  static absl::StatusOr<client::AppointmentResult> Upsert(client::BlockingClient& c,
                                                          const client::AppointmentInput& a) {
    auto r = c.UpsertAppointments({a});
    if (!r.ok()) return r.status();
    if (r->size() != 1) return absl::InternalError("not one result for one appointment");
    return (*r)[0];
  }

  int Move(client::BlockingClient& c, bool json) {
    auto held = c.ShowAppointment(tenant_, id_);
    if (!held.ok()) return Fail(held.status());
    Json view = Json::parse(*held, nullptr, false);
    if (view.is_discarded() || !view.contains("appointment")) {
      return Fail(absl::InternalError("rappeld's appointment view did not parse"));
    }
    const Json& h = view["appointment"];
    client::AppointmentInput a;
    a.tenant = tenant_;
    a.id = id_;
    a.calendar = h.value("calendar", "");
    a.type = h.value("type", "");
    a.patient = h.value("patient", "");
    a.location = h.value("location", "");
    a.notes = h.value("notes", "");
    a.booked_online = h.value("booked_online", false);
    a.booked_at_ms = h.value("booked_at_ms", int64_t{0});
    a.channels = h.value("channels", client::kAllChannels);
    int64_t held_start = h.value("start_ms", int64_t{0});
    int64_t held_end = h.value("end_ms", held_start);
    a.start_ms = move_start_;
    a.end_ms = move_end_ ? *move_end_ : move_start_ + (held_end - held_start);
    // The same version would be a no-op: a move is the platform's next one.
    a.version = version_ != 0 ? version_ : h.value("version", uint64_t{0}) + 1;
    return Apply(c, json, "move", tenant_, id_, [&] { return Upsert(c, a); });
  }

  // Runs `op` on one appointment and prints its result and the messages it
  // planned, dropped and left out: the audit entries it added (the view
  // before and after; without an admin token, the result alone).
  template <typename Op>
  int Apply(client::BlockingClient& c, bool json, const std::string& what, uint32_t tenant,
            const std::string& id, Op op) {
    size_t audit_before = 0;
    bool views = true;
    if (auto before = c.ShowAppointment(tenant, id); before.ok()) {
      Json v = Json::parse(*before, nullptr, false);
      if (!v.is_discarded() && v.contains("audit")) audit_before = v["audit"].size();
    } else if (absl::IsPermissionDenied(before.status())) {
      views = false;
    } else if (!absl::IsNotFound(before.status())) {
      return Fail(before.status());
    }
    absl::StatusOr<client::AppointmentResult> r = op();
    if (!r.ok()) {
      return Fail(absl::Status(r.status().code(), absl::StrCat(what, " ", tenant, "/", id, ": ",
                                                               r.status().message())));
    }
    Json out = {{"tenant", tenant},
                {"id", id},
                {"action", what},
                {"outcome", client::UpsertOutcomeName(r->outcome)},
                {"revision", r->revision},
                {"pending", r->planned}};
    Json messages = Json::array();
    if (views) {
      auto after = c.ShowAppointment(tenant, id);
      if (!after.ok()) return Fail(after.status());
      Json v = Json::parse(*after, nullptr, false);
      if (!v.is_discarded() && v.contains("audit")) {
        const Json& audit = v["audit"];
        for (size_t i = audit_before; i < audit.size(); ++i) {
          std::string w = audit[i].value("what", "");
          if (w == "planned" || w == "dropped" || w == "omitted") messages.push_back(audit[i]);
        }
      }
      out["messages"] = messages;
      if (v.contains("appointment")) {
        out["lifecycle"] = v["appointment"].value("lifecycle", "");
        out["status"] = v["appointment"].value("status", "");
      }
    }
    if (json) {
      std::printf("%s\n", out.dump(2, ' ', false, Json::error_handler_t::replace).c_str());
      return 0;
    }
    std::printf("%s %u/%s: %s, revision %u, %u messages pending\n", what.c_str(), tenant,
                id.c_str(), client::UpsertOutcomeName(r->outcome), r->revision, r->planned);
    if (!views) {
      std::printf("(the messages need an admin token: rappelctl appointment %u %s)\n", tenant,
                  id.c_str());
      return 0;
    }
    if (messages.empty()) return 0;
    std::printf("%-8s %-18s %-7s %-20s %s\n", "WHAT", "KIND", "CHANNEL", "DUE (UTC)", "REASON");
    for (const Json& m : messages) {
      int64_t due = m.value("due_ms", int64_t{0});
      std::printf("%-8s %-18s %-7s %-20s %s\n", m.value("what", "").c_str(),
                  m.value("kind", "").c_str(), m.value("channel", "").c_str(),
                  due != 0 ? FormatMs(due).c_str() : "-", m.value("reason", "").c_str());
    }
    return 0;
  }

  CLI::App* book_ = nullptr;
  CLI::App* move_ = nullptr;
  CLI::App* cancel_ = nullptr;
  CLI::App* status_ = nullptr;
  CLI::App* send_now_ = nullptr;
  client::AppointmentInput input_;               // book from flags
  std::vector<client::AppointmentInput> items_;  // book: set by Prepare
  std::string json_file_;
  std::string start_text_, end_text_, duration_text_, channels_text_;
  uint32_t tenant_ = 0;
  std::string id_;
  uint64_t version_ = 0;
  int64_t move_start_ = 0;
  std::optional<int64_t> move_end_;
  std::string cancel_by_, status_text_, kind_;
  bool clear_ = false;
};

}  // namespace

std::unique_ptr<CommandGroup> AddAppointmentOpCommands(CLI::App& app) {
  return std::make_unique<AppointmentOps>(app);
}

}  // namespace rappel::ctl
