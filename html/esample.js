// nhiicc diagnostic page. A classic script (not a module): module scripts do
// not load from file:// pages, and this page must work opened from disk.
(function () {
  'use strict';

  var PROTOCOL_VERSION = '0001';
  var FROM_FILE = location.protocol === 'file:';
  // A file page cannot know where the service is, so it uses the name the
  // official pages use; the served page talks back to wherever it came from.
  var WS_URL = FROM_FILE ? 'wss://iccert.nhi.gov.tw:7777/echo' : 'wss://' + location.host + '/echo';
  var OPEN_TIMEOUT_MS = 8000;
  var REPLY_TIMEOUT_MS = 60000;
  var RETRY_MS = 5000;
  var POLL_MS = 2000;

  // docs/protocol.md §4, the same codes as the server's table (a test checks);
  // anything else the official pages call A001.
  var CODES = {
    '4061': ['無法連線到健保署 SAM 服務', 'cannot connect to the NHI SAM service'],
    '7001': ['PC/SC 環境錯誤（讀卡機服務未啟動或未安裝）', 'PC/SC environment error (smart-card service not running or not installed)'],
    '7002': ['無法存取讀卡機', 'cannot access the card reader'],
    '7003': ['無法存取讀卡機', 'cannot access the card reader'],
    '7004': ['未插入健保卡（卡片不是健保卡）', 'no NHI card inserted (the card in the reader is not an NHI card)'],
    '8001': ['讀卡錯誤（卡片識別碼）', 'card read error (card id)'],
    '8002': ['讀卡錯誤（卡片亂數）', 'card read error (card random)'],
    '8003': ['卡片認證傳輸錯誤（SAM）', 'card authentication transport error (SAM)'],
    '8004': ['卡片認證傳輸錯誤（SAM）', 'card authentication transport error (SAM)'],
    '8005': ['卡片認證傳輸錯誤（SAM）', 'card authentication transport error (SAM)'],
    '8006': ['卡片回應無法通過認證', "the card's answer could not be authenticated"],
    '8007': ['卡片認證傳輸錯誤（SAM）', 'card authentication transport error (SAM)'],
    '8008': ['卡片認證傳輸錯誤（SAM）', 'card authentication transport error (SAM)'],
    '8009': ['密碼長度錯誤（須為 6 至 12 碼）', 'invalid password length (6 to 12)'],
    '8010': ['讀取基本資料失敗', 'reading basic data failed'],
    '8011': ['讀取基本資料失敗', 'reading basic data failed'],
    '8013': ['無法存取健保卡：請確認讀卡機已連接且已插入健保卡', 'cannot access the NHI card: check the reader is plugged in and the card inserted'],
    '8201': ['服務錯誤', 'service error'],
    '8202': ['服務錯誤', 'service error'],
    '8302': ['PKCS#11／金鑰錯誤（SAM 交握）', 'PKCS#11 / key error (SAM handshake)'],
    '8303': ['PKCS#11／金鑰錯誤（SAM 交握）', 'PKCS#11 / key error (SAM handshake)'],
    '8304': ['連線階段建立錯誤（SAM 交握）', 'session setup error (SAM handshake)'],
    '8305': ['連線階段建立錯誤（SAM 交握）', 'session setup error (SAM handshake)'],
    '8306': ['PKCS#11／金鑰錯誤（SAM 交握）', 'PKCS#11 / key error (SAM handshake)'],
    '9001': ['簽章驗證失敗', 'signature verification failed'],
    '9002': ['簽章驗證失敗', 'signature verification failed'],
    '9999': ['不明的指令', 'unknown command'],
  };

  var $ = function (id) { return document.getElementById(id); };

  function el(tag, text, className) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = text;
    if (className) e.className = className;
    return e;
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
  }

  // ---- ID masking -------------------------------------------------------
  // The ID number never enters the DOM while masked: the raw log and the
  // result are rendered from data kept here, masked at render time.
  var idShown = false;
  var lastId = null;

  function maskId(id) {
    if (idShown) return id;
    if (id.length <= 4) return id.replace(/./g, '*');
    if (id.length < 8) return id.slice(0, 1) + '*'.repeat(id.length - 1);
    return id.slice(0, 3) + '*'.repeat(id.length - 6) + id.slice(-3);
  }

  /** The reply text as it may be shown now. */
  function displayReply(reply) {
    if (reply.indexOf('GetBasic:') !== 0) return reply;
    var f = reply.slice('GetBasic:'.length).split(',');
    if (f.length > 1) f[1] = maskId(f[1]);
    return 'GetBasic:' + f.join(',');
  }

  // ---- raw log ----------------------------------------------------------
  var rawEntries = [];

  function addRaw(direction, text) {
    rawEntries.push({ direction: direction, text: text, time: new Date() });
    if (rawEntries.length > 50) rawEntries.shift();
    renderRaw();
  }

  function pad2(n) { return (n < 10 ? '0' : '') + n; }

  function renderRaw() {
    var box = $('raw');
    clear(box);
    rawEntries.forEach(function (e) {
      var t = pad2(e.time.getHours()) + ':' + pad2(e.time.getMinutes()) + ':' + pad2(e.time.getSeconds());
      var text = e.direction === '←' ? displayReply(e.text) : e.text;
      box.appendChild(el('div', t + ' ' + e.direction + ' ' + text));
    });
    box.scrollTop = box.scrollHeight;
  }

  // ---- connection -------------------------------------------------------
  var socket = null;
  var connected = false;
  var pending = [];
  var retryTimer = null;

  function setStatus(kind, text, detail) {
    var s = $('status');
    s.className = kind;
    s.textContent = text;
    $('status-detail').textContent = detail;
  }

  function showTrouble(reason, reply) {
    connected = false;
    setStatus('bad', 'Not connected 未連線',
      reason === 'answer' ? '已連線但回應不正確 · connected, but the answer was not GetVersion:' + PROTOCOL_VERSION
        : '無法連線到 ' + WS_URL + ' · cannot connect to ' + WS_URL);
    $('trouble').hidden = false;
    $('trouble-answer').hidden = reason !== 'answer';
    $('trouble-reply').textContent = reply || '';
    $('causes-served').hidden = FROM_FILE;
    $('causes-file').hidden = !FROM_FILE;
    setButtons();
    scheduleRetry();
  }

  function scheduleRetry() {
    if (retryTimer) return;
    retryTimer = setTimeout(function () {
      retryTimer = null;
      if (!connected) connect();
    }, RETRY_MS);
  }

  function failPending(why) {
    var list = pending;
    pending = [];
    list.forEach(function (p) { clearTimeout(p.timer); p.reject(new Error(why)); });
  }

  function connect() {
    if (retryTimer) { clearTimeout(retryTimer); retryTimer = null; }
    if (socket) {
      var old = socket;
      socket = null;
      // biome-ignore lint/correctness/noUnusedVariables: ES5 has no catch without a binding
      try { old.close(); } catch (e) { /* already closed */ }
    }
    failPending('reconnecting');
    if ($('trouble').hidden) setStatus('wait', 'Connecting…', '連線中 · connecting to ' + WS_URL);

    var ws;
    try {
      ws = new WebSocket(WS_URL);
      // biome-ignore lint/correctness/noUnusedVariables: ES5 has no catch without a binding
    } catch (e) {
      showTrouble('socket');
      return;
    }
    socket = ws;
    var opened = false;
    var openTimer = setTimeout(function () {
      if (!opened && socket === ws) { socket = null; ws.close(); showTrouble('socket'); }
    }, OPEN_TIMEOUT_MS);

    ws.onopen = function () {
      opened = true;
      clearTimeout(openTimer);
      request('GetVersion', { timeoutMs: OPEN_TIMEOUT_MS, callerDrops: true }).then(function (reply) {
        if (socket !== ws) return;
        if (reply === 'GetVersion:' + PROTOCOL_VERSION) {
          connected = true;
          $('trouble').hidden = true;
          setStatus('ok', 'Connected to server', '已連線到健保卡元件服務 · ' + WS_URL);
          setButtons();
        } else {
          socket = null;
          ws.close();
          showTrouble('answer', reply);
        }
      }, function () {
        if (socket !== ws) return;
        socket = null;
        ws.close();
        showTrouble('answer', '(no answer 無回應)');
      });
    };
    ws.onmessage = function (ev) {
      if (socket !== ws) return;
      var text = typeof ev.data === 'string' ? ev.data : '(binary)';
      addRaw('←', text);
      var p = pending.shift();
      if (p) { clearTimeout(p.timer); p.resolve(text); }
    };
    ws.onclose = function () {
      clearTimeout(openTimer);
      if (socket !== ws) return;
      socket = null;
      failPending('connection closed');
      showTrouble('socket');
    };
    ws.onerror = function () { /* onclose follows and says it */ };
  }

  /** Sends one command; replies come back in order on the socket. */
  function request(command, options) {
    options = options || {};
    return new Promise(function (resolve, reject) {
      if (!socket || socket.readyState !== WebSocket.OPEN) { reject(new Error('not connected')); return; }
      var ws = socket;
      var entry = { resolve: resolve, reject: reject, timer: null };
      // A reply that never comes would shift every later reply onto the
      // wrong request, so a timeout drops the whole connection.
      entry.timer = setTimeout(function () {
        reject(new Error('timeout'));
        if (socket === ws && !options.callerDrops) { socket = null; ws.close(); failPending('timeout'); showTrouble('socket'); }
      }, options.timeoutMs || REPLY_TIMEOUT_MS);
      pending.push(entry);
      addRaw('→', options.shown || command);
      ws.send(command);
    });
  }

  // ---- results ----------------------------------------------------------
  var lastRandom = null;
  var lastResult = null;

  function rocDate(s) {
    if (!/^\d{7}$/.test(s)) return s;
    var y = Number(s.slice(0, 3));
    return '民國 ' + y + ' 年 ' + s.slice(3, 5) + ' 月 ' + s.slice(5, 7) + ' 日 (' + (y + 1911) + '-' + s.slice(3, 5) + '-' + s.slice(5, 7) + ')';
  }

  function codeRow(code) {
    var m = CODES[code];
    var box = el('div');
    box.appendChild(el('span', code, 'code'));
    if (m) {
      box.appendChild(document.createTextNode(' ' + m[0] + ' · ' + m[1]));
    } else {
      box.appendChild(document.createTextNode(' A001 元件安裝問題（不明的回應）· component installation problem (unrecognised reply)'));
    }
    if (code === '9999' && FROM_FILE) {
      box.appendChild(el('div', '從檔案開啟的頁面只能使用 GetVersion · pages opened from a file may only use GetVersion', 'muted'));
    }
    return box;
  }

  function table(rows) {
    var t = el('table');
    rows.forEach(function (r) {
      var tr = el('tr');
      tr.appendChild(el('th', r[0]));
      var td = el('td', r[1]);
      if (r[2]) td.className = r[2];
      tr.appendChild(td);
      t.appendChild(tr);
    });
    return t;
  }

  function renderResult() {
    var box = $('result');
    clear(box);
    $('btn-show-id').hidden = lastId === null;
    $('btn-show-id').textContent = idShown ? '隱藏身分證號 Hide ID number' : '顯示身分證號 Show ID number';
    var r = lastResult;
    if (!r) return;
    box.appendChild(el('div', r.title, 'muted'));
    if (r.error) { box.appendChild(el('div', r.error, 'warn')); return; }
    var reply = r.reply;
    if (/^\d{4}$/.test(reply)) { box.appendChild(codeRow(reply)); return; }
    var colon = reply.indexOf(':');
    var name = colon > 0 ? reply.slice(0, colon) : '';
    var payload = colon > 0 ? reply.slice(colon + 1) : reply;
    if (name === 'GetBasic') {
      var f = payload.split(',');
      box.appendChild(table([
        ['卡號 Card number', f[0] || ''],
        ['身分證號 ID number', maskId(f[1] || ''), 'mono'],
        ['姓名 Name', f[2] || ''],
        ['出生日期 Birth date', rocDate(f[3] || '')],
        ['性別 Sex', f[4] === 'M' ? '男 M' : f[4] === 'F' ? '女 F' : f[4] || ''],
        ['註記 Mark', f[5] || ''],
      ]));
    } else if (name === 'GetVersion') {
      box.appendChild(table([['協定版本 Protocol version', payload, payload === PROTOCOL_VERSION ? 'yes' : 'warn']]));
    } else if (name === 'GetRandom') {
      box.appendChild(table([['亂數 Random (16 digits)', payload, /^\d{16}$/.test(payload) ? '' : 'warn']]));
    } else if (name === 'H_Sign') {
      box.appendChild(table([
        ['簽章 Signature', payload.length + ' 字元 characters ' + (payload.length === 256 ? '✓' : '(應為 256 · should be 256)'), payload.length === 256 ? 'yes' : 'warn'],
        ['簽署值 Signed value', r.signed || ''],
      ]));
    } else if (name === 'EnCrypt') {
      box.appendChild(table([['加密後的密碼 Encrypted password', payload, 'mono']]));
    } else {
      box.appendChild(el('div', 'A001 元件安裝問題（不明的回應）· component installation problem (unrecognised reply)', 'warn'));
    }
  }

  function run(title, command, options) {
    return request(command, options).then(function (reply) {
      if (reply.indexOf('GetRandom:') === 0) lastRandom = reply.slice('GetRandom:'.length);
      if (reply.indexOf('GetBasic:') === 0) {
        lastId = reply.slice('GetBasic:'.length).split(',')[1] || '';
      }
      lastResult = { title: title, reply: reply, signed: options && options.signed };
      renderResult();
      return reply;
    }, function (err) {
      lastResult = { title: title, error: '沒有回應 · no reply (' + err.message + ')' };
      renderResult();
      throw err;
    });
  }

  var busy = false;
  function guarded(fn) {
    return function () {
      if (busy) return;
      busy = true;
      setButtons();
      Promise.resolve().then(fn).catch(function () { /* shown already */ }).then(function () {
        busy = false;
        setButtons();
      });
    };
  }

  function setButtons() {
    var buttons = document.querySelectorAll('button[id^="btn-"]:not(#btn-show-id)');
    for (var i = 0; i < buttons.length; i++) {
      var b = buttons[i];
      var fileLimited = FROM_FILE && b.classList.contains('card-cmd');
      b.disabled = busy || !connected || fileLimited;
      b.title = fileLimited ? '檔案頁面只能使用 GetVersion · file pages may only use GetVersion' : '';
    }
  }

  $('btn-basic').addEventListener('click', guarded(function () { return run('讀取健保卡 GetBasic', 'GetBasic'); }));
  $('btn-version').addEventListener('click', guarded(function () { return run('GetVersion', 'GetVersion'); }));
  $('btn-random').addEventListener('click', guarded(function () { return run('GetRandom', 'GetRandom'); }));
  $('btn-sign').addEventListener('click', guarded(function () {
    var random = lastRandom ? Promise.resolve(lastRandom) : run('GetRandom', 'GetRandom').then(function (reply) {
      if (reply.indexOf('GetRandom:') !== 0) throw new Error('GetRandom failed');
      return lastRandom;
    });
    return random.then(function (digits) {
      var value = PROTOCOL_VERSION + digits;
      return run('H_Sign', 'H_Sign?Random=' + value, { signed: value });
    });
  }));
  var encrypt = guarded(function () {
    var pwd = $('pwd').value;
    $('pwd').value = '';
    // The password is sent but never shown, not even in the raw log.
    return run('EnCrypt', 'EnCrypt?Pwd=' + pwd, { shown: 'EnCrypt?Pwd=' + '*'.repeat(pwd.length) });
  });
  // A form so Enter works; it never submits anywhere (the CSP says form-action 'none').
  $('encrypt-form').addEventListener('submit', function (ev) {
    ev.preventDefault();
    if (!$('btn-encrypt').disabled) encrypt();
  });
  $('btn-show-id').addEventListener('click', function () {
    idShown = !idShown;
    renderResult();
    renderRaw();
  });
  $('retry').addEventListener('click', function () { connect(); });

  // ---- live status (served page only) ------------------------------------
  function renderLive(s) {
    var box = $('live');
    clear(box);
    var rows = [['服務版本 Service version', 'nhiicc ' + s.version]];
    if (s.certificate && s.certificate.notAfter) {
      var end = new Date(s.certificate.notAfter);
      var days = Math.floor((end.getTime() - Date.now()) / 86400000);
      rows.push(['憑證到期 Certificate expires', end.toISOString().slice(0, 10) + '（' + days + ' 天 days）', days < 30 ? 'warn' : '']);
    }
    rows.push(['PC/SC', s.pcsc.available ? '可用 available' : '無法使用 unavailable' + (s.pcsc.reason ? '：' + s.pcsc.reason : ''), s.pcsc.available ? 'yes' : 'warn']);
    box.appendChild(table(rows));
    if (!s.pcsc.available) return;
    if (s.pcsc.readers.length === 0) {
      box.appendChild(el('p', '找不到讀卡機：請接上讀卡機 · No card reader found: plug one in.', 'warn'));
      return;
    }
    var t = el('table');
    t.id = 'readers';
    var head = el('tr');
    ['讀卡機 Reader', '卡片 Card', '健保卡 NHI card'].forEach(function (h) { head.appendChild(el('th', h)); });
    t.appendChild(head);
    s.pcsc.readers.forEach(function (r) {
      var tr = el('tr');
      tr.appendChild(el('td', r.name));
      tr.appendChild(el('td', r.cardPresent ? '已插卡 inserted' : '無卡 none', r.cardPresent ? 'yes' : 'no'));
      var nhi = !r.cardPresent ? '—' : r.nhiCard === true ? '是 yes' : r.nhiCard === false ? '否 no (not an NHI card)' : '尚未讀取 not read yet';
      tr.appendChild(el('td', nhi, r.nhiCard === false ? 'warn' : r.nhiCard ? 'yes' : 'no'));
      t.appendChild(tr);
    });
    box.appendChild(t);
  }

  function poll() {
    fetch('/status.json', { cache: 'no-store', credentials: 'omit' }).then(function (res) {
      if (!res.ok) throw new Error('HTTP ' + res.status);
      return res.json();
    }).then(renderLive, function (err) {
      var box = $('live');
      clear(box);
      box.appendChild(el('p', '無法取得服務狀態，服務可能已停止 · Cannot get the status; the service may have stopped (' + err.message + ')', 'warn'));
    }).then(function () { setTimeout(poll, POLL_MS); });
  }

  // ---- start ------------------------------------------------------------
  $('ws-url').textContent = WS_URL;
  $('file-note').hidden = !FROM_FILE;
  $('served-panel').hidden = FROM_FILE;
  setButtons();
  renderResult();
  connect();
  if (!FROM_FILE) poll();
})();
