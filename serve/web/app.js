// The siamese web page: plain JavaScript against the JSON API, no build step.
"use strict";
const $ = (id) => document.getElementById(id);
let info = null;

function key() { return localStorage.getItem("siamese-key") || ""; }

function say(text, ok) {
  const m = $("message");
  m.textContent = text;
  m.className = ok ? "ok" : "";
}

async function api(method, path, body) {
  const res = await fetch(path, { method, body, headers: { Authorization: "Bearer " + key() } });
  const type = res.headers.get("Content-Type") || "";
  const data = type.includes("json") ? await res.json() : await res.blob();
  if (!res.ok) throw new Error(data.error || res.statusText);
  return data;
}

function show(view) {
  document.querySelectorAll(".view").forEach((v) => v.classList.toggle("active", v.id === view));
  document.querySelectorAll("nav button").forEach((b) => b.classList.toggle("active", b.dataset.view === view));
  if (view === "attendance") loadAttendance();
  if (view === "gallery") loadGallery();
}

function today() {
  const d = new Date();
  return new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 10);
}

async function loadInfo() {
  try {
    info = await api("GET", "/v1/info");
    $("model").textContent = `model ${info.model_id} (${info.domain || "generic"}), gallery ${info.default_gallery}`;
    $("gallery-name").textContent = info.default_gallery;
    say("", true);
  } catch (e) {
    say("Enter an API key: " + e.message);
  }
}

async function startCamera(video, snapButton) {
  try {
    const stream = await navigator.mediaDevices.getUserMedia({ video: true });
    video.srcObject = stream;
    video.classList.add("live");
    snapButton.disabled = false;
  } catch (e) {
    say("No camera: " + e.message);
  }
}

function snapshot(video) {
  const c = document.createElement("canvas");
  c.width = video.videoWidth;
  c.height = video.videoHeight;
  c.getContext("2d").drawImage(video, 0, 0);
  return new Promise((resolve) => c.toBlob(resolve, "image/jpeg", 0.92));
}

async function checkIn(blob, name) {
  const fd = new FormData();
  fd.append("file", blob, name);
  fd.append("camera", $("kiosk-camera-id").value);
  const out = $("kiosk-result");
  try {
    const r = await api("POST", "/v1/attendance/check-in", fd);
    out.innerHTML = "";
    for (const f of r.faces) {
      const span = document.createElement("div");
      span.className = f.known ? "known" : "unknown";
      span.textContent = f.known ? `${f.name}${f.recorded ? "" : " (already in today)"}` : "unknown";
      out.appendChild(span);
    }
  } catch (e) {
    out.innerHTML = "";
    out.className = "result unknown";
    out.textContent = e.message;
  }
}

const shots = [];

async function enrol(ev) {
  ev.preventDefault();
  const name = $("enrol-name").value.trim();
  const fd = new FormData();
  fd.append("name", name);
  for (const f of $("enrol-files").files) fd.append("file", f, f.name);
  shots.forEach((b, i) => fd.append("file", b, `camera-${i + 1}.jpg`));
  if ($("enrol-replace").checked) fd.append("replace", "true");
  try {
    const r = await api("POST", `/v1/galleries/${encodeURIComponent(info.default_gallery)}/subjects`, fd);
    say(`Enrolled ${r.enrolled} from ${r.images} photo(s).`, true);
    shots.length = 0;
    $("enrol-shots").textContent = "0 photos from the camera";
    $("enrol-form").reset();
  } catch (e) {
    say("Not enrolled: " + e.message);
  }
}

async function loadAttendance() {
  const date = $("att-date").value || today();
  const body = $("att-table").querySelector("tbody");
  try {
    const r = await api("GET", `/v1/attendance?date=${date}`);
    body.innerHTML = "";
    for (const e of r.events) {
      const tr = document.createElement("tr");
      for (const v of [new Date(e.time).toLocaleTimeString(), e.subject || "unknown", e.score.toFixed(3), e.camera || ""]) {
        const td = document.createElement("td");
        td.textContent = v;
        tr.appendChild(td);
      }
      body.appendChild(tr);
    }
  } catch (e) {
    say(e.message);
  }
}

async function downloadCSV() {
  const date = $("att-date").value || today();
  try {
    const blob = await api("GET", `/v1/attendance.csv?date=${date}`);
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = `attendance-${date}.csv`;
    document.body.appendChild(a);
    a.click();
    a.remove();
  } catch (e) {
    say(e.message);
  }
}

async function loadGallery() {
  const body = $("gallery-table").querySelector("tbody");
  try {
    const r = await api("GET", `/v1/galleries/${encodeURIComponent(info.default_gallery)}/subjects`);
    body.innerHTML = "";
    for (const s of r.subjects) {
      const tr = document.createElement("tr");
      for (const v of [s.name, String(s.images), new Date(s.added).toLocaleString()]) {
        const td = document.createElement("td");
        td.textContent = v;
        tr.appendChild(td);
      }
      const td = document.createElement("td");
      const b = document.createElement("button");
      b.textContent = "Delete";
      b.className = "delete";
      b.onclick = async () => {
        if (!confirm(`Delete ${s.name} and their embeddings?`)) return;
        try {
          await api("DELETE", `/v1/galleries/${encodeURIComponent(info.default_gallery)}/subjects/${encodeURIComponent(s.name)}`);
          say(`Deleted ${s.name}.`, true);
          loadGallery();
        } catch (e) {
          say(e.message);
        }
      };
      td.appendChild(b);
      tr.appendChild(td);
      body.appendChild(tr);
    }
  } catch (e) {
    say(e.message);
  }
}

document.querySelectorAll("nav button").forEach((b) => (b.onclick = () => show(b.dataset.view)));
$("save-key").onclick = () => { localStorage.setItem("siamese-key", $("key").value.trim()); loadInfo(); };
$("kiosk-camera").onclick = () => startCamera($("kiosk-video"), $("kiosk-snap"));
$("kiosk-snap").onclick = async () => checkIn(await snapshot($("kiosk-video")), "camera.jpg");
$("kiosk-file").onchange = (e) => { if (e.target.files[0]) checkIn(e.target.files[0], e.target.files[0].name); };
$("enrol-camera").onclick = () => startCamera($("enrol-video"), $("enrol-snap"));
$("enrol-snap").onclick = async () => { shots.push(await snapshot($("enrol-video"))); $("enrol-shots").textContent = `${shots.length} photos from the camera`; };
$("enrol-form").onsubmit = enrol;
$("att-load").onclick = loadAttendance;
$("att-csv").onclick = downloadCSV;
$("att-date").value = today();
$("key").value = key();
show("kiosk");
loadInfo();
