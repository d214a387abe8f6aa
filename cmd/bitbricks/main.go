package main

import (
	_ "github.com/charmbracelet/bubbles/key"
	_ "github.com/charmbracelet/bubbletea"
	_ "github.com/charmbracelet/lipgloss"
	_ "github.com/databricks/databricks-sdk-go"
	_ "github.com/getkin/kin-openapi/openapi3filter"
	_ "github.com/goccy/go-yaml"
	_ "github.com/ktrysmt/go-bitbucket"
	_ "github.com/santhosh-tekuri/jsonschema/v6"
	_ "github.com/spf13/cobra"
)

func main() {}
