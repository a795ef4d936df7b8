//! Helpers for integration tests: a real server process and real WebSocket clients.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use tokio::net::TcpStream as TokioTcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use whiteboard::protocol::{
    packed, BoardId, ClientMessage, Color, ErrorCode, OpId, Operation, Point, ServerMessage,
    Stroke, StrokeId, StrokeStyle, UserId, PROTOCOL_VERSION,
};

/// How long any single expected message may take.
pub const RECV_TIMEOUT: Duration = Duration::from_secs(10);

/// The server binary running as a child process on a free loopback port.
pub struct ServerProcess {
    child: Option<Child>,
    pub addr: SocketAddr,
    pub data_dir: PathBuf,
}

impl ServerProcess {
    /// Starts the server on a port the OS picks, and learns the port from the
    /// line the server prints once it listens (no race for "free" ports).
    pub fn start(data_dir: &Path) -> Self {
        Self::start_with(data_dir, &[])
    }

    /// Starts the server with extra environment, e.g. `REDIS_URL` and `MONGODB_URI`.
    pub fn start_with(data_dir: &Path, env: &[(&str, &str)]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_whiteboard"))
            .envs(env.iter().copied())
            .arg("--addr")
            .arg("127.0.0.1:0")
            .arg("--data-dir")
            .arg(data_dir)
            .arg("--log")
            .arg("warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the server binary");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();
        let first = lines
            .next()
            .expect("the server prints where it listens")
            .expect("read the server's stdout");
        let addr: SocketAddr = first
            .rsplit("http://")
            .next()
            .and_then(|a| a.trim().parse().ok())
            .unwrap_or_else(|| panic!("unexpected first line from the server: {first}"));
        // Keep draining stdout so the server can never block on it.
        std::thread::spawn(move || lines.for_each(drop));
        wait_for_port(addr, "the server");
        Self {
            child: Some(child),
            addr,
            data_dir: data_dir.to_owned(),
        }
    }

    fn signal(&self, signal: &str) {
        if let Some(child) = &self.child {
            let status = Command::new("kill")
                .arg(format!("-{signal}"))
                .arg(child.id().to_string())
                .status()
                .expect("run kill");
            assert!(status.success(), "kill -{signal} failed");
        }
    }

    /// SIGTERM, then wait for a clean exit; returns whether it exited with success.
    pub fn stop(&mut self) -> bool {
        self.signal("TERM");
        self.wait()
    }

    /// SIGKILL: no chance to flush anything.
    pub fn kill(&mut self) {
        self.signal("KILL");
        self.wait();
    }

    fn wait(&mut self) -> bool {
        let Some(mut child) = self.child.take() else {
            return false;
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = child.try_wait().expect("wait for server") {
                return status.success();
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("server did not exit in time");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| c.try_wait().ok().flatten().is_none())
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

pub fn board_id(name: &str) -> BoardId {
    BoardId::parse(&format!("test-board-{name}-0000000")).expect("valid board id")
}

pub fn user(name: &str) -> UserId {
    UserId::parse(name).expect("valid user id")
}

pub fn stroke(id: &str, y: f32) -> Stroke {
    Stroke::freehand(
        StrokeId::parse(id).expect("valid stroke id"),
        StrokeStyle {
            color: Color::parse("#1971c2").expect("valid colour"),
            width: 4.0,
        },
        (0..20)
            .map(|i| Point::new(10.0 + i as f32 * 5.0, y, 0.5))
            .collect(),
    )
}

pub fn add_stroke(op_id: &str, stroke: Stroke) -> ClientMessage {
    ClientMessage::AddStroke {
        op_id: OpId::parse(op_id).expect("valid op id"),
        stroke,
    }
}

/// A `preview` of the first `points` points of `stroke`.
pub fn preview_of(stroke: &Stroke, points: usize) -> ClientMessage {
    ClientMessage::Preview {
        stroke: stroke.id.clone(),
        style: stroke.style.clone(),
        points: stroke.points[..points].to_vec(),
    }
}

pub fn op_id(raw: &str) -> OpId {
    OpId::parse(raw).expect("valid op id")
}

/// A WebSocket client speaking the protocol.
pub struct Client {
    ws: WebSocketStream<MaybeTlsStream<TokioTcpStream>>,
    pub user: UserId,
}

/// A frame as the test sees it.
// One value at a time in a test: its size does not matter, boxing would
// only make the assertions noisier.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Received {
    Message(ServerMessage),
    Closed(Option<u16>),
}

impl Client {
    /// Connects without saying hello.
    pub async fn open(addr: SocketAddr, board: &BoardId, user: UserId) -> Self {
        let url = format!("ws://{addr}/ws/{board}");
        let (ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("websocket connects");
        Self { ws, user }
    }

    /// A client on a socket opened elsewhere (a view link's, say).
    pub fn from_socket(ws: WebSocketStream<MaybeTlsStream<TokioTcpStream>>, user: UserId) -> Self {
        Self { ws, user }
    }

    /// Says hello as this client's user.
    pub async fn hello(&mut self, last_seq: Option<u64>) {
        self.hello_with_key(last_seq, None).await;
    }

    /// Says hello with the edit key of a rotated edit link.
    pub async fn hello_with_key(&mut self, last_seq: Option<u64>, key: Option<&str>) {
        self.send(&ClientMessage::Hello {
            protocol: PROTOCOL_VERSION,
            user: self.user.clone(),
            last_seq,
            name: None,
            view: None,
            key: key.map(str::to_owned),
        })
        .await;
    }

    /// Connects, says hello, and returns the client with its `welcome`.
    pub async fn join(
        addr: SocketAddr,
        board: &BoardId,
        name: &str,
        last_seq: Option<u64>,
    ) -> (Self, ServerMessage) {
        let mut client = Self::open(addr, board, user(name)).await;
        client.hello(last_seq).await;
        let welcome = client
            .recv_matching(|m| matches!(m, ServerMessage::Welcome { .. }))
            .await;
        (client, welcome)
    }

    pub async fn send(&mut self, message: &ClientMessage) {
        self.send_raw(&message.encode()).await;
    }

    pub async fn send_raw(&mut self, text: &str) {
        self.ws
            .send(Message::Text(text.to_owned().into()))
            .await
            .expect("send frame");
    }

    /// Sends a frame; `false` once the connection is gone.
    pub async fn try_send_raw(&mut self, text: &str) -> bool {
        self.ws
            .send(Message::Text(text.to_owned().into()))
            .await
            .is_ok()
    }

    pub async fn send_binary(&mut self, bytes: Vec<u8>) {
        self.ws
            .send(Message::Binary(bytes.into()))
            .await
            .expect("send frame");
    }

    /// The next message or close, failing the test after [`RECV_TIMEOUT`].
    pub async fn recv(&mut self) -> Received {
        self.recv_within(RECV_TIMEOUT).await
    }

    /// The next message or close, failing the test after `timeout`.
    pub async fn recv_within(&mut self, timeout: Duration) -> Received {
        self.try_recv_within(timeout)
            .await
            .expect("a frame within the timeout")
    }

    /// The next message or close, or `None` if nothing comes within `timeout`.
    pub async fn try_recv_within(&mut self, timeout: Duration) -> Option<Received> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let frame = tokio::time::timeout_at(deadline, self.ws.next())
                .await
                .ok()?;
            match frame {
                Some(Ok(Message::Text(text))) => {
                    let message =
                        ServerMessage::decode(text.as_str()).expect("server frames decode");
                    return Some(Received::Message(self.with_packed_snapshot(message).await));
                }
                Some(Ok(Message::Close(frame))) => {
                    return Some(Received::Closed(frame.map(|f| u16::from(f.code))))
                }
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return Some(Received::Closed(None)),
            }
        }
    }

    /// A version 2 or 3 welcome announces a packed snapshot; the next
    /// frames must be it (in parts from version 3), in binary frames. Returns the welcome with the snapshot
    /// unpacked into it, so tests see the same welcome whichever version
    /// they speak.
    async fn with_packed_snapshot(&mut self, message: ServerMessage) -> ServerMessage {
        let ServerMessage::Welcome {
            protocol,
            board,
            seq,
            snapshot: None,
            packed_snapshot: Some(len),
            snapshot_parts,
            ops,
            presence,
        } = message
        else {
            return message;
        };
        let mut bytes = Vec::new();
        while (bytes.len() as u64) < len {
            let frame = tokio::time::timeout(RECV_TIMEOUT, self.ws.next()).await;
            let Ok(Some(Ok(Message::Binary(part)))) = frame else {
                panic!("expected the packed snapshot after the welcome, got {frame:?}");
            };
            bytes.extend_from_slice(&part);
        }
        assert_eq!(bytes.len() as u64, len, "the welcome announced its size");
        ServerMessage::Welcome {
            protocol,
            board,
            seq,
            snapshot: Some(
                match &snapshot_parts {
                    Some(sizes) => packed::assemble(&bytes, sizes),
                    None => packed::decode(&bytes),
                }
                .expect("the packed snapshot decodes"),
            ),
            packed_snapshot: None,
            snapshot_parts: None,
            ops,
            presence,
        }
    }

    /// The next frame as it came, failing the test after [`RECV_TIMEOUT`].
    pub async fn next_frame(&mut self) -> Message {
        match tokio::time::timeout(RECV_TIMEOUT, self.ws.next()).await {
            Ok(Some(Ok(frame))) => frame,
            other => panic!("expected a frame, got {other:?}"),
        }
    }

    pub async fn recv_message(&mut self) -> ServerMessage {
        match self.recv().await {
            Received::Message(message) => message,
            Received::Closed(code) => {
                panic!("connection closed ({code:?}) while a message was expected")
            }
        }
    }

    /// Skips messages until one matches.
    pub async fn recv_matching(
        &mut self,
        wanted: impl Fn(&ServerMessage) -> bool,
    ) -> ServerMessage {
        loop {
            let message = self.recv_message().await;
            if wanted(&message) {
                return message;
            }
        }
    }

    /// Collects durable operations until the board reaches `seq`.
    pub async fn ops_until(&mut self, seq: u64) -> Vec<Operation> {
        let mut ops = Vec::new();
        while ops.last().is_none_or(|op: &Operation| op.seq < seq) {
            if let ServerMessage::Op { op } = self
                .recv_matching(|m| matches!(m, ServerMessage::Op { .. }))
                .await
            {
                ops.push(op);
            }
        }
        ops
    }

    /// Sends a durable message and waits for its acknowledgement.
    pub async fn commit(&mut self, message: ClientMessage) -> u64 {
        self.send(&message).await;
        match self
            .recv_matching(|m| matches!(m, ServerMessage::Ack { .. } | ServerMessage::Error { .. }))
            .await
        {
            ServerMessage::Ack { seq, .. } => seq,
            other => panic!("expected an ack, got {other:?}"),
        }
    }

    /// Waits for the server's close frame and returns its code.
    pub async fn closed(&mut self) -> Option<u16> {
        loop {
            if let Received::Closed(code) = self.recv().await {
                return code;
            }
        }
    }

    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
    }
}

/// Rebuilds the board a client would hold from its welcome.
pub fn board_from_welcome(welcome: &ServerMessage) -> whiteboard::board::Board {
    let ServerMessage::Welcome { snapshot, ops, .. } = welcome else {
        panic!("not a welcome: {welcome:?}");
    };
    let mut board = snapshot
        .clone()
        .map(whiteboard::board::Board::from_snapshot)
        .unwrap_or_default();
    for op in ops {
        board.apply(op);
    }
    board
}

/// A test service the test command started, named by an environment
/// variable. Without it the test is skipped with a message, unless the test
/// command asked for services to be required (then it fails).
pub fn service(variable: &str) -> Option<String> {
    match std::env::var(variable) {
        Ok(value) => Some(value),
        Err(_) => {
            assert!(
                std::env::var_os("WHITEBOARD_REQUIRE_SERVICES").is_none(),
                "{variable} is not set but services are required"
            );
            eprintln!(
                "skipped: {variable} is not set (scripts/test.sh starts the service and sets it)"
            );
            None
        }
    }
}

pub fn mongodb_uri() -> Option<String> {
    service("WHITEBOARD_TEST_MONGODB_URI")
}

pub fn redis_url() -> Option<String> {
    service("WHITEBOARD_TEST_REDIS_URL")
}

/// A database name no other test uses.
pub fn unique_database(name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("wb_test_{name}_{nanos}_{}", std::process::id())
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    listener.local_addr().expect("local addr").port()
}

fn wait_for_port(addr: SocketAddr, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(addr).is_err() {
        assert!(Instant::now() < deadline, "{what} did not open {addr}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A service process this test owns, so it can stop and restart it on the
/// same port (Redis, or the MongoDB-protocol server).
pub struct ServiceProcess {
    program: String,
    args: Vec<String>,
    pub port: u16,
    child: Option<Child>,
}

impl ServiceProcess {
    /// A private redis-server (needs `redis-server` on PATH).
    pub fn redis() -> Option<Self> {
        let program = service("WHITEBOARD_TEST_REDIS_SERVER")?;
        let port = free_port();
        let args = [
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        Some(Self::start(program, args, port))
    }

    /// A private MongoDB-protocol server with its data in `dir` (kept across restarts).
    pub fn mongodb(dir: &Path) -> Option<Self> {
        let program = service("WHITEBOARD_TEST_SECANTUSD")?;
        let port = free_port();
        let args = vec![
            "--host".into(),
            "127.0.0.1".into(),
            "--port".into(),
            port.to_string(),
            "--storage-path".into(),
            dir.display().to_string(),
            "--cache-size".into(),
            "128M".into(),
            "--log-level".into(),
            "ERROR".into(),
            "--sync-on-commit".into(),
        ];
        Some(Self::start(program, args, port))
    }

    fn start(program: String, args: Vec<String>, port: u16) -> Self {
        let mut service = Self {
            program,
            args,
            port,
            child: None,
        };
        service.restart();
        service
    }

    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "already running");
        let child = Command::new(&self.program)
            .args(&self.args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", self.program));
        self.child = Some(child);
        wait_for_port(SocketAddr::from(([127, 0, 0, 1], self.port)), &self.program);
    }

    /// SIGKILL and wait: the service is gone at once.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for ServiceProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A server on a fresh data directory (deleted when the guard drops).
pub fn start_server() -> (tempfile::TempDir, ServerProcess) {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(dir.path());
    (dir, server)
}

pub fn error_code(message: &ServerMessage) -> ErrorCode {
    match message {
        ServerMessage::Error { code, .. } => *code,
        other => panic!("expected an error, got {other:?}"),
    }
}

/// The whole response (head and body) to `GET path` over plain HTTP/1.1.
pub fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
    http_request(addr, "GET", path)
}

/// The whole response to an empty `method path` request over HTTP/1.1.
pub fn http_request(addr: std::net::SocketAddr, method: &str, path: &str) -> String {
    http_request_with(addr, method, path, &[])
}

/// Like [`http_request`], with more headers.
pub fn http_request_with(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    let extra: String = headers
        .iter()
        .map(|(name, value)| format!("{name}: {value}\r\n"))
        .collect();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{extra}Content-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

/// `POST path`, with an edit key if given: the status and the body.
pub fn http_post(addr: std::net::SocketAddr, path: &str, edit_key: Option<&str>) -> (u16, String) {
    let headers: Vec<(&str, &str)> = edit_key
        .map(|key| ("X-Edit-Key", key))
        .into_iter()
        .collect();
    let response = http_request_with(addr, "POST", path, &headers);
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// A field of a JSON body, as text.
pub fn json_field(body: &str, field: &str) -> String {
    serde_json::from_str::<serde_json::Value>(body).unwrap()[field]
        .as_str()
        .unwrap_or_else(|| panic!("no {field} in {body}"))
        .to_owned()
}

/// An HTTP response read whole: status, headers (names in lowercase) and
/// body bytes.
#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The first value of header `name` (lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(header, _)| header == name)
            .map(|(_, value)| value.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// How a request's body goes out.
pub enum Body<'a> {
    /// With `Content-Length`.
    Sized(&'a [u8]),
    /// In chunks of `Transfer-Encoding: chunked`, with no length declared.
    Chunked(&'a [u8]),
}

/// `method path` with `headers` and `body` over HTTP/1.1, read whole. The
/// server may answer before it has read the whole body (a refusal): what
/// it says is read even if sending the rest failed.
pub fn http_exchange(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Body<'_>,
) -> HttpResponse {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    let _sent = match body {
        Body::Sized(bytes) => {
            head.push_str(&format!("Content-Length: {}\r\n\r\n", bytes.len()));
            stream
                .write_all(head.as_bytes())
                .and_then(|()| stream.write_all(bytes))
        }
        Body::Chunked(bytes) => {
            head.push_str("Transfer-Encoding: chunked\r\n\r\n");
            let mut sent = stream.write_all(head.as_bytes());
            for chunk in bytes.chunks(16 * 1024) {
                sent = sent
                    .and_then(|()| write!(stream, "{:x}\r\n", chunk.len()))
                    .and_then(|()| stream.write_all(chunk))
                    .and_then(|()| stream.write_all(b"\r\n"));
            }
            sent.and_then(|()| stream.write_all(b"0\r\n\r\n"))
        }
    };
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let split = response
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .unwrap_or_else(|| {
            panic!(
                "no response head in {:?}",
                String::from_utf8_lossy(&response)
            )
        });
    let head = String::from_utf8_lossy(&response[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    let mut body = response[split + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(name, value)| name == "transfer-encoding" && value.contains("chunked"));
    if chunked {
        body = dechunk(&body);
    }
    HttpResponse {
        status,
        headers,
        body,
    }
}

/// The data of a `Transfer-Encoding: chunked` body.
fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut data = Vec::new();
    while let Some(end) = body.windows(2).position(|window| window == b"\r\n") {
        let size = std::str::from_utf8(&body[..end])
            .ok()
            .and_then(|size| usize::from_str_radix(size.split(';').next()?.trim(), 16).ok())
            .expect("a chunk size");
        if size == 0 {
            break;
        }
        data.extend_from_slice(&body[end + 2..end + 2 + size]);
        body = &body[end + 2 + size + 2..];
    }
    data
}
