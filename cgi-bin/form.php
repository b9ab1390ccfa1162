#!/usr/bin/env php
<?php
// CGI demo: the form of form.py, handled by PHP ($_GET, $_POST, $_FILES), everything HTML-escaped.

function e($s) { return htmlspecialchars((string)$s, ENT_QUOTES | ENT_SUBSTITUTE, 'UTF-8'); }

/** Rows of name => value, flattening arrays such as a[]=1&a[]=2. */
function rows(array $fields, string $prefix = ''): array {
    $out = [];
    foreach ($fields as $k => $v) {
        $name = $prefix === '' ? (string)$k : $prefix . '[' . $k . ']';
        if (is_array($v)) {
            $out = array_merge($out, rows($v, $name));
        } else {
            $out[] = [$name, '<code>' . e($v) . '</code>'];
        }
    }
    return $out;
}

function table(string $title, array $rows): string {
    if (!$rows) return '<h2>' . e($title) . '</h2><p class="muted">(none)</p>';
    $html = '<h2>' . e($title) . '</h2><table>';
    foreach ($rows as [$k, $v]) $html .= '<tr><th>' . e($k) . '</th><td>' . $v . '</td></tr>';
    return $html . '</table>';
}

$method = $_SERVER['REQUEST_METHOD'] ?? 'GET';
$query = $_SERVER['QUERY_STRING'] ?? '';
$ctype = $_SERVER['CONTENT_TYPE'] ?? '';
// php://input is empty for multipart bodies (PHP consumes them), so the length comes from CONTENT_LENGTH there.
$raw = file_get_contents('php://input');
$length = ($raw === '' && isset($_SERVER['CONTENT_LENGTH'])) ? (int)$_SERVER['CONTENT_LENGTH'] : strlen($raw);

$sections = [];
if ($query !== '' || $method !== 'GET') {
    $sections[] = table('Query string fields ($_GET)', rows($_GET));
    $sections[] = table('Body fields ($_POST)', rows($_POST));
    $files = [];
    foreach ($_FILES as $name => $f) {
        if (is_array($f['name'])) continue;
        $files[] = [$name, $f['error'] === UPLOAD_ERR_OK
            ? 'file <code>' . e($f['name']) . '</code>, ' . (int)$f['size'] . ' bytes'
            : 'upload error ' . (int)$f['error']];
    }
    $sections[] = table('Files ($_FILES)', $files);
    $sections[] = '<p>Method <code>' . e($method) . '</code>, Content-Type <code>' . e($ctype ?: '(none)')
        . '</code>, raw body length: <strong>' . $length . '</strong> bytes.</p>';
}

header('Content-Type: text/html; charset=utf-8');
header('X-Body-Length: ' . $length);
?>
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>form.php — CGI form</title>
<link rel="stylesheet" href="/style.css">
</head>
<body>
<main class="wrap">
<h1>A form handled by PHP CGI</h1>
<?php if ($sections): ?><div class="card"><?= implode("\n", $sections) ?></div><?php endif; ?>
<div class="card"><form class="stack" action="/cgi-bin/form.php" method="post">
<label>Name <input type="text" name="name" value="Ada"></label>
<label>Message <textarea name="message" rows="3">Hello &amp; welcome &lt;3</textarea></label>
<label>File (sent with multipart only) <input type="file" name="upload"></label>
<div>
<button type="submit">POST (urlencoded)</button>
<button type="submit" formenctype="multipart/form-data">POST (multipart)</button>
<button type="submit" formmethod="get">GET</button>
</div>
</form></div>
<p><a href="/cgi-bin/form.php">Reset</a> · <a href="/">Home</a></p>
</main>
</body>
</html>
