//! Renders the OpenAPI document as one self-contained HTML page: inline
//! style, no script, no font, nothing fetched from anywhere.

use std::fmt::Write;

use serde_json::Value;

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn schema_name(schema: &Value) -> String {
    if let Some(reference) = schema["$ref"].as_str() {
        return reference.rsplit('/').next().unwrap_or(reference).to_owned();
    }
    match (&schema["type"], &schema["enum"]) {
        (_, Value::Array(values)) => values
            .iter()
            .map(|v| v.to_string())
            .collect::<Vec<_>>()
            .join(" | "),
        (Value::String(kind), _) => kind.clone(),
        _ => "object".to_owned(),
    }
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}\
h2{border-bottom:1px solid #ccc;padding-bottom:.3rem}\
.op{border:1px solid #ddd;border-radius:6px;padding:.6rem 1rem;margin:1rem 0}\
.m{font-weight:bold;font-family:monospace;padding:.1rem .4rem;border-radius:4px;background:#eef}\
code,pre{font-family:monospace;background:#f6f6f6;padding:.1rem .3rem}\
table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:.2rem .5rem;text-align:left}";

/// The page.
pub(super) fn render(doc: &Value) -> String {
    let mut page = String::new();
    let title = escape(doc["info"]["title"].as_str().unwrap_or("API"));
    let _ = write!(
        page,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title><style>{STYLE}</style></head><body>\
         <h1>{title} {}</h1><p>{}</p><p>Machine-readable: <code>GET /api/v1/openapi.json</code>. \
         Authenticate with <code>Authorization: Bearer hyp_...</code>.</p>",
        escape(doc["info"]["version"].as_str().unwrap_or("")),
        escape(doc["info"]["description"].as_str().unwrap_or("")),
    );
    let paths = doc["paths"].as_object().cloned().unwrap_or_default();
    for (path, item) in &paths {
        let _ = write!(page, "<h2><code>{}</code></h2>", escape(path));
        for (method, op) in item.as_object().into_iter().flatten() {
            let _ = write!(
                page,
                "<div class=\"op\" id=\"{}\"><p><span class=\"m\">{}</span> {} <small>({})</small></p>",
                escape(op["operationId"].as_str().unwrap_or("")),
                escape(&method.to_ascii_uppercase()),
                escape(op["summary"].as_str().unwrap_or("")),
                escape(op["operationId"].as_str().unwrap_or("")),
            );
            if let Some(cap) = op["x-required-capability"].as_str() {
                let _ = write!(page, "<p>Capability: <code>{}</code></p>", escape(cap));
            }
            if let Some(scope) = op["x-required-scope"].as_str() {
                let _ = write!(page, "<p>Scope: {}</p>", escape(scope));
            }
            if op["security"] == serde_json::json!([]) {
                page.push_str("<p>No key needed.</p>");
            }
            if let Some(params) = op["parameters"].as_array().filter(|p| !p.is_empty()) {
                page.push_str("<table><tr><th>parameter</th><th>in</th><th>schema</th><th>description</th></tr>");
                for param in params {
                    let _ = write!(
                        page,
                        "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
                        escape(param["name"].as_str().unwrap_or("")),
                        escape(param["in"].as_str().unwrap_or("")),
                        escape(&schema_name(&param["schema"])),
                        escape(param["description"].as_str().unwrap_or("")),
                    );
                }
                page.push_str("</table>");
            }
            if let Some(body) =
                op["requestBody"]["content"]["application/json"]["schema"].as_object()
            {
                let _ = write!(
                    page,
                    "<p>Body: <code>{}</code></p>",
                    escape(&schema_name(&Value::Object(body.clone())))
                );
            }
            page.push_str("<p>Answers: ");
            for (status, response) in op["responses"].as_object().into_iter().flatten() {
                let response = match response["$ref"].as_str() {
                    Some(reference) => {
                        &doc["components"]["responses"][reference.rsplit('/').next().unwrap_or("")]
                    }
                    None => response,
                };
                let _ = write!(
                    page,
                    "<code title=\"{}\">{}</code> ",
                    escape(response["description"].as_str().unwrap_or("")),
                    escape(status)
                );
            }
            page.push_str("</p></div>");
        }
    }
    page.push_str("<h2>Schemas</h2>");
    for (name, schema) in doc["components"]["schemas"]
        .as_object()
        .into_iter()
        .flatten()
    {
        let pretty = serde_json::to_string_pretty(schema).unwrap_or_default();
        let _ = write!(
            page,
            "<h3 id=\"schema-{0}\">{0}</h3><pre>{1}</pre>",
            escape(name),
            escape(&pretty)
        );
    }
    page.push_str("</body></html>");
    page
}
