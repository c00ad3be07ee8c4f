package aws

import (
	"net/url"
	"regexp"
	"strings"
)

// thumbprintRE: a certificate thumbprint is the 40-hex-digit SHA-1 of the issuer's CA.
var thumbprintRE = regexp.MustCompile(`^[0-9a-fA-F]{40}$`)

// oidcProviderURL validates an OIDC provider URL member (https://host[/path], at most 255
// characters) and returns it without the scheme and trailing slash, as IAM stores it.
func oidcProviderURL(raw, field string) (string, *apiError) {
	if raw == "" {
		return "", iamValidation("1 validation error detected: Value null at '%s' failed to satisfy constraint: Member must not be null", field)
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || len(raw) > 255 {
		return "", errorf(400, "InvalidInput", "Invalid value '%s' for %s: must be an https URL of at most 255 characters without query or fragment", raw, field)
	}
	return strings.TrimSuffix(u.Host+u.Path, "/"), nil
}

func oidcClientIDs(ids []string) *apiError {
	if len(ids) > 100 {
		return iamLimitExceeded("Cannot exceed quota for ClientIdsPerOpenIdConnectProvider: 100")
	}
	for i, id := range ids {
		if id == "" || len(id) > 255 {
			return iamValidation("1 validation error detected: Value at 'clientIDList.%d.member' failed to satisfy constraint: Member must have length between 1 and 255", i+1)
		}
	}
	return nil
}

func oidcThumbprints(tps []string) *apiError {
	if len(tps) > 5 {
		return iamLimitExceeded("Cannot exceed quota for ThumbprintsPerOpenIdConnectProvider: 5")
	}
	for i, tp := range tps {
		if !thumbprintRE.MatchString(tp) {
			return iamValidation("1 validation error detected: Value '%s' at 'thumbprintList.%d.member' failed to satisfy constraint: Member must be 40 hexadecimal characters", tp, i+1)
		}
	}
	return nil
}

// oidcProvider returns the provider named by the OpenIDConnectProviderArn member or NoSuchEntity.
func (s *iamStore) oidcProvider(form url.Values) (*iamOIDCProvider, *apiError) {
	arn, aerr := iamRequired(form, "OpenIDConnectProviderArn")
	if aerr != nil {
		return nil, aerr
	}
	p := s.oidc[arn]
	if p == nil {
		return nil, iamNoSuchEntity("OpenIDConnect Provider not found for arn %s", arn)
	}
	return p, nil
}

// oidcProviderByIssuer returns the provider registered for the issuer URL (https://...), or nil.
func (s *iamStore) oidcProviderByIssuer(issuer string) *iamOIDCProvider {
	u, aerr := oidcProviderURL(issuer, "iss")
	if aerr != nil {
		return nil
	}
	return s.oidc[s.e.iamARN("oidc-provider/"+u)]
}

type createOIDCResult struct {
	OpenIDConnectProviderArn string   `xml:"OpenIDConnectProviderArn"`
	Tags                     []iamTag `xml:"Tags>member,omitempty"`
}

// createOIDCProvider registers an issuer; thumbprints are optional (IAM no longer requires
// them for well-known issuers), at most 5, each 40 hex digits.
func (s *iamStore) createOIDCProvider(form url.Values) (any, *apiError) {
	u, aerr := oidcProviderURL(form.Get("Url"), "url")
	if aerr != nil {
		return nil, aerr
	}
	ids := formList(form, "ClientIDList.member")
	if aerr := oidcClientIDs(ids); aerr != nil {
		return nil, aerr
	}
	tps := formList(form, "ThumbprintList.member")
	if aerr := oidcThumbprints(tps); aerr != nil {
		return nil, aerr
	}
	tags, aerr := iamTags(form)
	if aerr != nil {
		return nil, aerr
	}
	arn := s.e.iamARN("oidc-provider/" + u)
	if _, ok := s.oidc[arn]; ok {
		return nil, iamAlreadyExists("Provider with url https://%s already exists.", u)
	}
	s.oidc[arn] = &iamOIDCProvider{arn: arn, url: u, clientIDs: ids, thumbprints: tps, created: s.now(), tags: tags}
	return createOIDCResult{OpenIDConnectProviderArn: arn, Tags: tags}, nil
}

type getOIDCResult struct {
	Url            string   `xml:"Url"`
	ClientIDList   []string `xml:"ClientIDList>member"`
	ThumbprintList []string `xml:"ThumbprintList>member"`
	CreateDate     string   `xml:"CreateDate"`
	Tags           []iamTag `xml:"Tags>member,omitempty"`
}

func (s *iamStore) getOIDCProvider(form url.Values) (any, *apiError) {
	p, aerr := s.oidcProvider(form)
	if aerr != nil {
		return nil, aerr
	}
	return getOIDCResult{
		Url: p.url, ClientIDList: append([]string{}, p.clientIDs...), ThumbprintList: append([]string{}, p.thumbprints...),
		CreateDate: iamTime(p.created), Tags: p.tags,
	}, nil
}

func (s *iamStore) deleteOIDCProvider(form url.Values) (any, *apiError) {
	p, aerr := s.oidcProvider(form)
	if aerr != nil {
		return nil, aerr
	}
	delete(s.oidc, p.arn)
	return nil, nil
}

type oidcListEntry struct {
	Arn string `xml:"Arn"`
}

type listOIDCResult struct {
	OpenIDConnectProviderList []oidcListEntry `xml:"OpenIDConnectProviderList>member"`
}

func (s *iamStore) listOIDCProviders(url.Values) (any, *apiError) {
	out := listOIDCResult{OpenIDConnectProviderList: []oidcListEntry{}}
	for _, arn := range iamSortedKeys(s.oidc) {
		out.OpenIDConnectProviderList = append(out.OpenIDConnectProviderList, oidcListEntry{Arn: arn})
	}
	return out, nil
}

// oidcClientIDRequest returns the provider named by OpenIDConnectProviderArn and the required
// ClientID member of an Add/RemoveClientID request.
func (s *iamStore) oidcClientIDRequest(form url.Values) (*iamOIDCProvider, string, *apiError) {
	p, aerr := s.oidcProvider(form)
	if aerr != nil {
		return nil, "", aerr
	}
	id, aerr := iamRequired(form, "ClientID")
	if aerr != nil {
		return nil, "", aerr
	}
	return p, id, nil
}

func (s *iamStore) addClientIDToOIDCProvider(form url.Values) (any, *apiError) {
	p, id, aerr := s.oidcClientIDRequest(form)
	if aerr != nil {
		return nil, aerr
	}
	for _, have := range p.clientIDs {
		if have == id {
			return nil, nil
		}
	}
	ids := append(append([]string{}, p.clientIDs...), id)
	if aerr := oidcClientIDs(ids); aerr != nil {
		return nil, aerr
	}
	p.clientIDs = ids
	return nil, nil
}

func (s *iamStore) removeClientIDFromOIDCProvider(form url.Values) (any, *apiError) {
	p, id, aerr := s.oidcClientIDRequest(form)
	if aerr != nil {
		return nil, aerr
	}
	var ids []string
	for _, have := range p.clientIDs {
		if have != id {
			ids = append(ids, have)
		}
	}
	p.clientIDs = ids
	return nil, nil
}

func (s *iamStore) updateOIDCThumbprint(form url.Values) (any, *apiError) {
	p, aerr := s.oidcProvider(form)
	if aerr != nil {
		return nil, aerr
	}
	tps := formList(form, "ThumbprintList.member")
	if aerr := oidcThumbprints(tps); aerr != nil {
		return nil, aerr
	}
	p.thumbprints = tps
	return nil, nil
}
