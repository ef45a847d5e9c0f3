"""The Jobyard console: server-rendered pages over the api, tokens kept on the server."""
