#include "server/plan/registry.h"

#include <algorithm>
#include <type_traits>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "server/plan/objects_json.h"
#include "server/plan/render.h"
#include "server/plan/token.h"

namespace rappel::server::plan {
namespace {

std::string_view ObjectPrefix(ObjectKind kind) {
  switch (kind) {
    case ObjectKind::kTenant: return "pt/";
    case ObjectKind::kCalendar: return "pc/";
    case ObjectKind::kType: return "py/";
    case ObjectKind::kPatient: return "pp/";
    case ObjectKind::kTemplate: return "pm/";
  }
  return "p?/";
}

}  // namespace

absl::Status ScanByTenant(
    Store::Reader& reader, std::string_view prefix,
    const std::function<absl::Status(uint32_t, std::string_view, std::string_view)>& fn) {
  absl::Status error;
  absl::Status st = reader.ScanState(prefix, [&](std::string_view k, std::string_view v) {
    if (k.substr(0, prefix.size()) != prefix) return false;
    k.remove_prefix(prefix.size());
    if (k.size() < 4) {
      error = absl::DataLossError("short object key");
      return false;
    }
    uint32_t tenant = static_cast<uint32_t>(GetBE(k, 0, 4));
    error = fn(tenant, k.substr(4), v);
    return error.ok();
  });
  return st.ok() ? error : st;
}

absl::Status ObjectRegistry::Load(Store::Reader& reader) {
  if (absl::Status st = ScanByTenant(reader, "pt/", [&](uint32_t tenant, std::string_view,
                                                        std::string_view v) {
        auto j = ParseJsonObject(v);
        if (!j.ok()) return j.status();
        Tenant t;
        t.id = tenant;
        if (absl::Status s = FromJson(*j, &t); !s.ok()) return s;
        tenants_[tenant] = std::move(t);
        return absl::OkStatus();
      });
      !st.ok()) {
    return st;
  }
  auto load_object = [&](std::string_view prefix, auto* map) {
    return ScanByTenant(reader, prefix, [&](uint32_t tenant, std::string_view id,
                                            std::string_view v) {
      auto j = ParseJsonObject(v);
      if (!j.ok()) return j.status();
      typename std::remove_pointer_t<decltype(map)>::mapped_type o;
      o.tenant = tenant;
      o.id = std::string(id);
      if (absl::Status s = FromJson(*j, &o); !s.ok()) return s;
      (*map)[ObjKey(tenant, id)] = std::move(o);
      return absl::OkStatus();
    });
  };
  if (absl::Status st = load_object("pc/", &calendars_); !st.ok()) return st;
  if (absl::Status st = load_object("py/", &types_); !st.ok()) return st;
  if (absl::Status st = load_object("pp/", &patients_); !st.ok()) return st;
  for (const auto& [obj, p] : patients_) {
    if (p.mobile.empty()) continue;
    auto& ids = by_mobile_[ObjKey(p.tenant, p.mobile)];
    ids.push_back(p.id);
    if (ids.size() == 2) ++shared_mobiles_;
  }
  if (absl::Status st = ScanByTenant(reader, "pn/", [&](uint32_t tenant, std::string_view id,
                                                        std::string_view v) {
        auto it = patients_.find(ObjKey(tenant, id));
        if (it == patients_.end() || v.size() != 8) return absl::OkStatus();
        it->second.appointments = static_cast<uint32_t>(GetBE(v, 0, 4));
        it->second.no_shows = static_cast<uint32_t>(GetBE(v, 4, 4));
        return absl::OkStatus();
      });
      !st.ok()) {
    return st;
  }
  if (absl::Status st = ScanByTenant(reader, "pm/", [&](uint32_t tenant, std::string_view id,
                                                        std::string_view v) {
        auto j = ParseJsonObject(v);
        if (!j.ok()) return j.status();
        auto subject = CompileTemplate(j->value("subject", ""));
        auto body = CompileTemplate(j->value("body", ""));
        if (!subject.ok()) return subject.status();
        if (!body.ok()) return body.status();
        templates_[ObjKey(tenant, id)] = TemplatePair{std::move(*subject), std::move(*body),
                                                      std::string(v), j->value("track_opens", false)};
        return absl::OkStatus();
      });
      !st.ok()) {
    return st;
  }
  return ScanByTenant(reader, "ps/", [&](uint32_t tenant, std::string_view address,
                                         std::string_view) {
    stopped_.insert(ObjKey(tenant, address));
    return absl::OkStatus();
  });
}

absl::StatusOr<ObjectRegistry::Prepared> ObjectRegistry::PreparePut(ObjectKind kind,
                                                                    uint32_t tenant_id,
                                                                    std::string id,
                                                                    std::string_view text) {
  auto doc = ParseJsonObject(text);
  if (!doc.ok()) return doc.status();
  if (kind != ObjectKind::kTenant) {
    if (FindTenant(tenant_id) == nullptr) {
      return absl::NotFoundError(absl::StrCat("unknown tenant ", tenant_id));
    }
    if (id.empty() || id.size() > kMaxIdBytes) {
      return absl::InvalidArgumentError(absl::StrCat("an id is 1 to ", kMaxIdBytes, " bytes"));
    }
  }
  std::string key = StoreKey(ObjectPrefix(kind), tenant_id, kind == ObjectKind::kTenant ? "" : id);
  std::string stored;  // the store's record
  Prepared out;        // out.shown: what the caller gets back
  switch (kind) {
    case ObjectKind::kTenant: {
      Tenant t;
      t.id = tenant_id;
      if (absl::Status st = FromJson(*doc, &t); !st.ok()) return st;
      if (doc->contains("secret")) {
        return absl::InvalidArgumentError("field \"secret\": set by rappel, not by clients");
      }
      if (absl::Status st = ValidateTimeZone(t.time_zone); !st.ok()) return st;
      const Tenant* old = FindTenant(tenant_id);
      t.secret = old != nullptr ? old->secret : NewSecret();
      stored = DumpJson(ToJson(t, true), "tenant record");
      out.shown = DumpJson(ToJson(t), "tenant view");
      out.apply = [this, t = std::move(t)]() mutable { tenants_[t.id] = std::move(t); };
      break;
    }
    case ObjectKind::kCalendar: {
      Calendar c;
      c.tenant = tenant_id;
      c.id = id;
      if (absl::Status st = FromJson(*doc, &c); !st.ok()) return st;
      stored = out.shown = DumpJson(ToJson(c), "calendar record");
      out.apply = [this, c = std::move(c)]() mutable {
        calendars_[ObjKey(c.tenant, c.id)] = std::move(c);
      };
      break;
    }
    case ObjectKind::kType: {
      AppointmentType t;
      t.tenant = tenant_id;
      t.id = id;
      if (absl::Status st = FromJson(*doc, &t); !st.ok()) return st;
      stored = out.shown = DumpJson(ToJson(t), "appointment type record");
      out.apply = [this, t = std::move(t)]() mutable { types_[ObjKey(t.tenant, t.id)] = std::move(t); };
      break;
    }
    case ObjectKind::kPatient: {
      Patient p;
      p.tenant = tenant_id;
      p.id = id;
      // Attendance is rappel's unless the document sets it.
      if (const Patient* old = FindPatient(tenant_id, id)) {
        p.appointments = old->appointments;
        p.no_shows = old->no_shows;
      }
      if (absl::Status st = FromJson(*doc, &p); !st.ok()) return st;
      if (doc->contains("channels")) {
        // A channel asked for explicitly must have an address.
        if ((p.channels & (ChannelBit(Channel::kSms) | ChannelBit(Channel::kVoice))) &&
            p.mobile.empty()) {
          return absl::InvalidArgumentError(
              "channel sms or voice switched on but the patient has no mobile number");
        }
        if ((p.channels & ChannelBit(Channel::kEmail)) && p.email.empty()) {
          return absl::InvalidArgumentError(
              "channel email switched on but the patient has no e-mail address");
        }
        if ((p.channels & ChannelBit(Channel::kPush)) && p.push_token.empty()) {
          return absl::InvalidArgumentError(
              "channel push switched on but the patient has no push token");
        }
      }
      stored = out.shown = DumpJson(ToJson(p), "patient record");
      out.apply = [this, p = std::move(p)]() mutable { SetPatient(std::move(p)); };
      break;
    }
    case ObjectKind::kTemplate: {
      // id: kind/channel/locale
      size_t a = id.find('/');
      size_t b = a == std::string::npos ? a : id.find('/', a + 1);
      std::optional<MessageKind> k;
      std::optional<Channel> c;
      std::string locale;
      if (b != std::string::npos) {
        k = ParseKind(std::string_view(id).substr(0, a));
        c = ParseChannel(std::string_view(id).substr(a + 1, b - a - 1));
        locale = id.substr(b + 1);
      }
      if (!k || !c || (locale != "fr" && locale != "en")) {
        return absl::InvalidArgumentError(
            "a template id is <kind>/<channel>/<locale>, e.g. reminder/sms/fr");
      }
      for (const auto& [field, value] : doc->items()) {
        if (field == "track_opens") {
          if (!value.is_boolean()) {
            return absl::InvalidArgumentError("field \"track_opens\": expected true or false");
          }
          continue;
        }
        if (field != "subject" && field != "body") {
          return absl::InvalidArgumentError(absl::StrCat("field \"", field, "\": unknown field"));
        }
        if (!value.is_string()) {
          return absl::InvalidArgumentError(absl::StrCat("field \"", field, "\": expected a string"));
        }
      }
      auto subject = CompileTemplate(doc->value("subject", ""));
      if (!subject.ok()) return subject.status();
      auto body = CompileTemplate(doc->value("body", ""));
      if (!body.ok()) return body.status();
      stored = out.shown = DumpJson(*doc, "template record");
      out.apply = [this, obj = ObjKey(tenant_id, id),
                   pair = TemplatePair{std::move(*subject), std::move(*body), stored,
                                       doc->value("track_opens", false)}]() mutable {
        templates_[obj] = std::move(pair);
      };
      break;
    }
  }
  out.writes.push_back(StatePut(std::move(key), std::move(stored)));
  if (kind == ObjectKind::kPatient) {
    Patient counts;
    counts.tenant = tenant_id;
    counts.id = id;
    auto j = ParseJsonObject(out.shown);
    counts.appointments = j.ok() ? j->value("appointments", 0u) : 0u;
    counts.no_shows = j.ok() ? j->value("no_shows", 0u) : 0u;
    out.writes.push_back(AttendanceRecord(counts));
  }
  return out;
}

absl::StatusOr<std::string> ObjectRegistry::Get(ObjectKind kind, uint32_t tenant,
                                                const std::string& id) const {
  auto missing = [&](std::string_view what) {
    return absl::NotFoundError(absl::StrCat("no ", std::string(what), " \"", id, "\" in tenant ", tenant));
  };
  switch (kind) {
    case ObjectKind::kTenant:
      if (const Tenant* t = FindTenant(tenant)) return DumpJson(ToJson(*t), "tenant view");
      return absl::NotFoundError(absl::StrCat("unknown tenant ", tenant));
    case ObjectKind::kCalendar:
      if (const Calendar* c = FindCalendar(tenant, id)) return DumpJson(ToJson(*c), "calendar view");
      return missing("calendar");
    case ObjectKind::kType:
      if (const AppointmentType* t = FindType(tenant, id)) return DumpJson(ToJson(*t), "appointment type view");
      return missing("appointment type");
    case ObjectKind::kPatient:
      if (const Patient* p = FindPatient(tenant, id)) return DumpJson(ToJson(*p), "patient view");
      return missing("patient");
    case ObjectKind::kTemplate:
      if (auto it = templates_.find(ObjKey(tenant, id)); it != templates_.end()) {
        return it->second.json;
      }
      return missing("template");
  }
  return absl::InvalidArgumentError("unknown object kind");
}

const Tenant* ObjectRegistry::FindTenant(uint32_t tenant) const {
  auto it = tenants_.find(tenant);
  return it == tenants_.end() ? nullptr : &it->second;
}

const Calendar* ObjectRegistry::FindCalendar(uint32_t tenant, std::string_view id) const {
  auto it = calendars_.find(ObjKey(tenant, id));
  return it == calendars_.end() ? nullptr : &it->second;
}

const AppointmentType* ObjectRegistry::FindType(uint32_t tenant, std::string_view id) const {
  auto it = types_.find(ObjKey(tenant, id));
  return it == types_.end() ? nullptr : &it->second;
}

const Patient* ObjectRegistry::FindPatient(uint32_t tenant, std::string_view id) const {
  auto it = patients_.find(ObjKey(tenant, id));
  return it == patients_.end() ? nullptr : &it->second;
}

Patient* ObjectRegistry::FindPatient(uint32_t tenant, std::string_view id) {
  auto it = patients_.find(ObjKey(tenant, id));
  return it == patients_.end() ? nullptr : &it->second;
}

const ObjectRegistry::TemplatePair* ObjectRegistry::FindTemplate(uint32_t tenant, MessageKind kind,
                                                                 Channel channel,
                                                                 std::string_view locale) const {
  if (templates_.empty()) return nullptr;
  auto it = templates_.find(ObjKey(tenant, absl::StrCat(std::string(KindName(kind)), "/",
                                                        std::string(ChannelName(channel)), "/",
                                                        std::string(locale))));
  return it == templates_.end() ? nullptr : &it->second;
}

StateOp ObjectRegistry::PatientRecord(const Patient& p) {
  return StatePut(StoreKey("pp/", p.tenant, p.id), DumpJson(ToJson(p), "patient record"));
}

StateOp ObjectRegistry::AttendanceRecord(const Patient& p) {
  std::string v;
  PutBE(&v, p.appointments, 4);
  PutBE(&v, p.no_shows, 4);
  return StatePut(StoreKey("pn/", p.tenant, p.id), std::move(v));
}

StateOp ObjectRegistry::SetStopped(uint32_t tenant, const std::string& address, bool stopped) {
  std::string blocked = ObjKey(tenant, address);
  if (stopped) {
    stopped_.insert(std::move(blocked));
    return StatePut(StoreKey("ps/", tenant, address), "");
  }
  stopped_.erase(blocked);
  return StateDelete(StoreKey("ps/", tenant, address));
}

ChannelMask ObjectRegistry::StoppedChannels(const Patient& p) const {
  if (stopped_.empty()) return 0;
  ChannelMask m = 0;
  if (AddressStopped(p.tenant, p.mobile)) m |= ChannelBit(Channel::kSms) | ChannelBit(Channel::kVoice);
  if (AddressStopped(p.tenant, p.email)) m |= ChannelBit(Channel::kEmail);
  return m;
}

void ObjectRegistry::SetPatient(Patient p) {
  std::string obj = ObjKey(p.tenant, p.id);
  if (auto old = patients_.find(obj); old != patients_.end() && !old->second.mobile.empty()) {
    auto it = by_mobile_.find(ObjKey(p.tenant, old->second.mobile));
    if (it != by_mobile_.end()) {
      auto& ids = it->second;
      if (ids.size() == 2) --shared_mobiles_;
      ids.erase(std::remove(ids.begin(), ids.end(), p.id), ids.end());
      if (ids.empty()) by_mobile_.erase(it);
    }
  }
  if (!p.mobile.empty()) {
    auto& ids = by_mobile_[ObjKey(p.tenant, p.mobile)];
    ids.push_back(p.id);
    if (ids.size() == 2) ++shared_mobiles_;
  }
  patients_[obj] = std::move(p);
}

const std::vector<std::string>& ObjectRegistry::PatientsWithMobile(uint32_t tenant,
                                                                   std::string_view mobile) const {
  static const std::vector<std::string> kNone;
  auto it = by_mobile_.find(ObjKey(tenant, mobile));
  return it == by_mobile_.end() ? kNone : it->second;
}

}  // namespace rappel::server::plan
