#!/usr/bin/env php
<?php
// CGI demo: an HTML page listing the RFC 3875 meta-variables this request was given, through php-cgi.
// (php-cgi skips the #! line; it needs REDIRECT_STATUS and SCRIPT_FILENAME, which the server sets.)

$names = [
    'GATEWAY_INTERFACE', 'SERVER_SOFTWARE', 'SERVER_NAME', 'SERVER_PORT', 'SERVER_PROTOCOL',
    'REQUEST_METHOD', 'SCRIPT_NAME', 'PATH_INFO', 'PATH_TRANSLATED', 'QUERY_STRING',
    'CONTENT_TYPE', 'CONTENT_LENGTH', 'REMOTE_ADDR', 'REMOTE_PORT', 'SCRIPT_FILENAME',
    'REQUEST_URI', 'DOCUMENT_ROOT', 'SESSION_ID',
];
$http = array_filter(array_keys($_SERVER), fn($k) => is_string($k) && str_starts_with($k, 'HTTP_'));
sort($http);
$names = array_merge($names, $http);

function e($s) { return htmlspecialchars((string)$s, ENT_QUOTES | ENT_SUBSTITUTE, 'UTF-8'); }

$method = $_SERVER['REQUEST_METHOD'] ?? '?';
$uri = $_SERVER['REQUEST_URI'] ?? ($_SERVER['SCRIPT_NAME'] ?? '?');
header('Content-Type: text/html; charset=utf-8');
?>
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>hello.php — CGI environment</title>
<link rel="stylesheet" href="/style.css">
</head>
<body>
<main class="wrap">
<h1>Hello from PHP CGI</h1>
<p class="lead">Method <code><?= e($method) ?></code> on <code><?= e($uri) ?></code>, PHP <?= e(PHP_VERSION) ?>, pid <?= getmypid() ?>.</p>
<div class="card"><table>
<?php foreach ($names as $n): ?>
<tr><th><?= e($n) ?></th><td><?= array_key_exists($n, $_SERVER)
    ? '<code>' . e($_SERVER[$n]) . '</code>' : '<em class="muted">(unset)</em>' ?></td></tr>
<?php endforeach; ?>
</table></div>
<p><a href="/cgi-bin/hello.php/extra/path?x=1&amp;y=2">Try a PATH_INFO and a query</a> · <a href="/">Home</a></p>
</main>
</body>
</html>
