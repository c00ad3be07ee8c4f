package aws

import (
	"encoding/xml"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

func TestWriteQueryXMLShape(t *testing.T) {
	type role struct {
		RoleName string `xml:"Role>RoleName"`
	}
	rec := httptest.NewRecorder()
	writeQueryXML(rec, "GetRole", "https://iam.amazonaws.com/doc/2010-05-08/", role{RoleName: "a<b"})
	var doc struct {
		XMLName   xml.Name
		Xmlns     string `xml:"xmlns,attr"`
		RoleName  string `xml:"GetRoleResult>Role>RoleName"`
		RequestID string `xml:"ResponseMetadata>RequestId"`
	}
	if err := xml.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
		t.Fatal(err, rec.Body.String())
	}
	if doc.XMLName.Local != "GetRoleResponse" || doc.RoleName != "a<b" || doc.RequestID == "" || doc.Xmlns != "https://iam.amazonaws.com/doc/2010-05-08/" {
		t.Errorf("got %+v from %s", doc, rec.Body.String())
	}

	rec = httptest.NewRecorder()
	writeQueryXML(rec, "DeleteRole", "ns", nil)
	if strings.Contains(rec.Body.String(), "DeleteRoleResult") || !strings.Contains(rec.Body.String(), "<RequestId>") {
		t.Errorf("nil result: %s", rec.Body.String())
	}

	rec = httptest.NewRecorder()
	writeQueryError(rec, http.StatusNotFound, "Sender", "NoSuchEntity", "role x & y")
	var er struct {
		Type      string `xml:"Error>Type"`
		Code      string `xml:"Error>Code"`
		Message   string `xml:"Error>Message"`
		RequestID string `xml:"RequestId"`
	}
	if err := xml.Unmarshal(rec.Body.Bytes(), &er); err != nil || rec.Code != 404 || er.Code != "NoSuchEntity" || er.Message != "role x & y" || er.Type != "Sender" || er.RequestID == "" {
		t.Errorf("query error %d %+v %v", rec.Code, er, err)
	}
}

func TestParseFormAndLists(t *testing.T) {
	body := "Action=X&InstanceId.2=b&InstanceId.1=a&InstanceId.x=bad&Tags.member.1.Key=k&Tags.member.1.Value=v&Tags.member.2.Key=k2"
	r := httptest.NewRequest(http.MethodPost, "/?Version=1", strings.NewReader(body))
	form, err := parseForm(r)
	if err != nil {
		t.Fatal(err)
	}
	if form.Get("Version") != "1" || form.Get("Action") != "X" {
		t.Errorf("form %v", form)
	}
	if got := formList(form, "InstanceId"); len(got) != 2 || got[0] != "a" || got[1] != "b" {
		t.Errorf("formList = %v", got)
	}
	objs := formObjects(form, "Tags.member")
	if len(objs) != 2 || objs[0].Get("Key") != "k" || objs[0].Get("Value") != "v" || objs[1].Get("Key") != "k2" {
		t.Errorf("formObjects = %v", objs)
	}
	if _, err := formInt(url.Values{"MaxResults": {"x"}}, "MaxResults", 0); err == nil || !strings.Contains(err.Message, "MaxResults") {
		t.Errorf("formInt error %v", err)
	}
	big := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(strings.Repeat("a", maxFormBytes+1)))
	if _, err := parseForm(big); err == nil {
		t.Error("oversized body accepted")
	}
	bad := httptest.NewRequest(http.MethodPost, "/", strings.NewReader("a=%zz"))
	if _, err := parseForm(bad); err == nil {
		t.Error("malformed body accepted")
	}
}
