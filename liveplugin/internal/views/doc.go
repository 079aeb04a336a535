// Package views renders the plugin's HTML pages from embedded html/template
// files that an application may override.
//
// [New] parses the embedded templates (layout.html, partials.html and one file
// per page), then the application's *.html files, so that an application's
// {{define}} of the same name wins. Every page gets its own clone of the common
// set (layout, partials and the application's overrides of those), then its
// page file, then the application's file of the same name, so that pages never
// see each other's definitions.
//
// The templates an application may replace:
//
//	amlive-layout        the full HTML page around a page's content
//	amlive-head          <link> and <script> tags for the assets
//	amlive-icon          the page's icon <link> (an empty data: URL: no /favicon.ico request)
//	amlive-header        the page header inside amlive-layout
//	amlive-content       a page's main content (defined by each page file)
//	amlive-player        the live player widget ([PartialData])
//	amlive-broadcaster   the "Go live" widget ([PartialData])
//	amlive-recordings    a table of recordings ([]Recording)
//	amlive-recording-row one row of that table ([Recording])
//	amlive-room          one entry of the rooms page's list ([RoomSummary])
//
// and the page files watch.html, embed.html, broadcast.html and rooms.html,
// each of which defines the template named by its page constant.
//
// The plugin serves the pages with a Content-Security-Policy that runs no
// inline code but that which carries the response's nonce, [Page].Nonce:
// an override writes <script nonce="{{.Nonce}}"> or <style
// nonce="{{.Nonce}}">, and no style or event handler attributes.
package views
