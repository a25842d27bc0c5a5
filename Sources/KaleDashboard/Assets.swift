/// The files the dashboard serves, compiled into the binary (`.embedInCode` in Package.swift):
/// nothing is read from disk or fetched from the network.
enum Assets {
    static func named(_ name: String) -> (bytes: [UInt8], type: String)? {
        switch name {
        case "app.js": return (PackageResources.app_js, "text/javascript; charset=utf-8")
        case "app.css": return (PackageResources.app_css, "text/css; charset=utf-8")
        default: return nil
        }
    }

    /// The OpenAPI 3.1 document of the JSON API (Sources/KaleDashboard/Assets/openapi.json).
    static var openAPI: [UInt8] { PackageResources.openapi_json }
}
